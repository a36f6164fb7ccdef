//! Signed Certificate Timestamps embedded in Fulcio certificates (RFC 6962 §3.3).
//!
//! Fulcio logs every certificate it issues in a Certificate Transparency log before
//! handing it out, and embeds the log's promise (an SCT over the precertificate) in the
//! certificate. cosign requires a valid SCT from a trusted CT log by default, so a
//! certificate that a compromised or rogue CA issued without logging is refused.

use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

use crate::asn1;
use crate::trusted_root::TrustedRoot;
use crate::x509::{OID_ECDSA_SHA256, OID_ECDSA_SHA384, verify_ecdsa};

/// X.509v3 extension holding the embedded SCT list.
pub const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";

/// Why no embedded SCT could be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SctError {
    #[error("certificate has no embedded SCT list (not logged in a CT log)")]
    Missing,
    #[error("malformed SCT list: {0}")]
    Malformed(String),
    #[error(
        "the trusted root has no Certificate Transparency log keys to check the certificate's \
         SCT with (give --ctlog-public-key, or skip the check with --insecure-ignore-sct)"
    )]
    NoTrustedLogs,
    #[error("SCT from CT log {0} which is not trusted")]
    UnknownLog(String),
    #[error("CT log {log} was not trusted at the SCT's time {time}")]
    LogNotValid { log: String, time: String },
    #[error("unsupported SCT: {0}")]
    Unsupported(String),
    #[error("SCT signature by CT log {0} does not verify")]
    BadSignature(String),
    #[error("no valid SCT: {0}")]
    NoneValid(String),
}

/// One SignedCertificateTimestamp (v1), as carried in the TLS-encoded list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    pub version: u8,
    /// SHA-256 of the CT log's public key (SPKI DER).
    pub log_id: [u8; 32],
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    pub extensions: Vec<u8>,
    /// TLS HashAlgorithm (4 = SHA-256, 5 = SHA-384).
    pub hash_alg: u8,
    /// TLS SignatureAlgorithm (3 = ECDSA).
    pub sig_alg: u8,
    pub signature: Vec<u8>,
}

/// Reads TLS-encoded fields front to back.
struct Tls<'a>(&'a [u8]);

impl<'a> Tls<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SctError> {
        if self.0.len() < n {
            return Err(SctError::Malformed("truncated".into()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, SctError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, SctError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }
    fn vec16(&mut self) -> Result<&'a [u8], SctError> {
        let n = self.u16()?;
        self.take(n)
    }
}

impl Sct {
    fn parse(bytes: &[u8]) -> Result<Self, SctError> {
        let mut r = Tls(bytes);
        let version = r.u8()?;
        if version != 0 {
            return Err(SctError::Unsupported(format!("SCT version {version}")));
        }
        let log_id: [u8; 32] = r.take(32)?.try_into().expect("32 bytes");
        let ts = r.take(8)?;
        let timestamp_ms = u64::from_be_bytes(ts.try_into().expect("8 bytes"));
        let extensions = r.vec16()?.to_vec();
        let hash_alg = r.u8()?;
        let sig_alg = r.u8()?;
        let signature = r.vec16()?.to_vec();
        if !r.0.is_empty() {
            return Err(SctError::Malformed("trailing bytes in an SCT".into()));
        }
        Ok(Self {
            version,
            log_id,
            timestamp_ms,
            extensions,
            hash_alg,
            sig_alg,
            signature,
        })
    }

    /// RFC 6962 §3.2 `digitally-signed` data for a precertificate entry.
    fn signed_data(&self, issuer_key_hash: &[u8; 32], precert_tbs: &[u8]) -> Vec<u8> {
        let mut d = Vec::with_capacity(precert_tbs.len() + 64);
        d.push(self.version);
        d.push(0); // signature_type = certificate_timestamp
        d.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        d.extend_from_slice(&1u16.to_be_bytes()); // entry_type = precert_entry
        d.extend_from_slice(issuer_key_hash);
        d.extend_from_slice(&(precert_tbs.len() as u32).to_be_bytes()[1..]); // u24
        d.extend_from_slice(precert_tbs);
        d.extend_from_slice(&(self.extensions.len() as u16).to_be_bytes());
        d.extend_from_slice(&self.extensions);
        d
    }
}

/// The SCTs embedded in `cert`.
pub fn embedded_scts(cert: &Certificate) -> Result<Vec<Sct>, SctError> {
    let ext = cert
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == OID_SCT_LIST)
        .ok_or(SctError::Missing)?;
    // The extension value is an OCTET STRING wrapping the TLS SignedCertificateTimestampList.
    let list = asn1::read_only(ext.extn_value.as_bytes(), 0x04).map_err(SctError::Malformed)?;
    let mut r = Tls(list.content);
    let mut items = Tls(r.vec16()?);
    if !r.0.is_empty() {
        return Err(SctError::Malformed(
            "trailing bytes after the SCT list".into(),
        ));
    }
    let mut out = Vec::new();
    while !items.0.is_empty() {
        out.push(Sct::parse(items.vec16()?)?);
    }
    if out.is_empty() {
        return Err(SctError::Missing);
    }
    Ok(out)
}

/// The precertificate's TBSCertificate: `cert`'s, with the SCT list extension removed
/// and everything else byte for byte as it was.
pub fn precert_tbs(cert: &Certificate) -> Result<Vec<u8>, SctError> {
    let bad = |m: String| SctError::Malformed(format!("certificate: {m}"));
    let tbs = cert
        .tbs_certificate()
        .to_der()
        .map_err(|e| bad(e.to_string()))?;
    let outer = asn1::read_only(&tbs, 0x30).map_err(bad)?;
    let mut fields = Vec::new();
    for f in asn1::children(outer.content).map_err(bad)? {
        if f.tag != 0xA3 {
            fields.extend_from_slice(f.whole);
            continue;
        }
        let exts = asn1::read_only(f.content, 0x30).map_err(bad)?;
        let mut kept = Vec::new();
        for e in asn1::children(exts.content).map_err(bad)? {
            let parsed =
                x509_cert::ext::Extension::from_der(e.whole).map_err(|e| bad(e.to_string()))?;
            if parsed.extn_id.to_string() != OID_SCT_LIST {
                kept.extend_from_slice(e.whole);
            }
        }
        fields.extend(asn1::encode(0xA3, &asn1::encode(0x30, &kept)));
    }
    Ok(asn1::encode(0x30, &fields))
}

fn short_id(log_id: &[u8]) -> String {
    hex::encode(&log_id[..8.min(log_id.len())])
}

/// Verifies one SCT over `precert_tbs` (see [`precert_tbs`]) issued by the CA whose
/// public key is `issuer_spki_der`, against the trusted root's CT logs.
pub fn verify_sct(
    sct: &Sct,
    precert_tbs: &[u8],
    issuer_spki_der: &[u8],
    root: &TrustedRoot,
) -> Result<(), SctError> {
    let log = root
        .ctlogs
        .iter()
        .find(|l| l.key_id == sct.log_id)
        .ok_or_else(|| SctError::UnknownLog(short_id(&sct.log_id)))?;
    let secs = (sct.timestamp_ms / 1000) as i64;
    if !log.valid_for.contains(secs) {
        return Err(SctError::LogNotValid {
            log: short_id(&sct.log_id),
            time: crate::image::rfc3339(secs),
        });
    }
    let alg = match (sct.hash_alg, sct.sig_alg) {
        (4, 3) => OID_ECDSA_SHA256,
        (5, 3) => OID_ECDSA_SHA384,
        (h, s) => {
            return Err(SctError::Unsupported(format!(
                "hash algorithm {h} / signature algorithm {s} (only ECDSA with SHA-256/384)"
            )));
        }
    };
    let issuer_key_hash: [u8; 32] = Sha256::digest(issuer_spki_der).into();
    verify_ecdsa(
        &log.spki,
        alg,
        &sct.signed_data(&issuer_key_hash, precert_tbs),
        &sct.signature,
    )
    .map_err(|_| SctError::BadSignature(short_id(&sct.log_id)))
}

/// Requires at least one valid SCT from a trusted CT log in `leaf`, issued by `issuer`.
/// Returns how many verified.
pub fn verify_embedded(
    leaf: &Certificate,
    issuer: &Certificate,
    root: &TrustedRoot,
) -> Result<usize, SctError> {
    if root.ctlogs.is_empty() {
        return Err(SctError::NoTrustedLogs);
    }
    let scts = embedded_scts(leaf)?;
    let tbs = precert_tbs(leaf)?;
    let spki = issuer
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| SctError::Malformed(e.to_string()))?;
    let mut ok = 0;
    let mut reasons = Vec::new();
    for sct in &scts {
        match verify_sct(sct, &tbs, &spki, root) {
            Ok(()) => ok += 1,
            Err(e) => reasons.push(e.to_string()),
        }
    }
    if ok == 0 {
        return Err(SctError::NoneValid(reasons.join("; ")));
    }
    Ok(ok)
}
