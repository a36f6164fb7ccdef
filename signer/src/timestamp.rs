//! RFC 3161 signed timestamps, as Sigstore bundles carry them
//! (`verificationMaterial.timestampVerificationData.rfc3161Timestamps[].signedTimestamp`).
//!
//! A timestamp authority (TSA) signs "this hash existed at time T". Over the bundle's
//! signature bytes, a verified timestamp is a second witness (besides Rekor's integration
//! time) of when the signature was made, so the short-lived signing certificate must have
//! been valid then too.
//!
//! The token is a CMS SignedData (RFC 5652) whose content is a TSTInfo. Checked here: the
//! TSTInfo's message imprint is the hash of the signature; the CMS signer's signature over
//! its signed attributes, whose message-digest attribute is the hash of the TSTInfo; and the
//! signer's certificate (named by the ESS signingCertificateV2 attribute when present; the
//! SHA-1 v1 form is not checked): a time-stamping certificate (critical extendedKeyUsage
//! timeStamping) that a trusted TSA chain pins or issued, valid at the stamped time.
//! Parsed with the small DER reader in [`crate::asn1`] (no CMS crate: the one matching
//! our `der`/`x509-cert` versions is a release candidate, and the subset needed is small).

use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};

use crate::asn1::{self, Tlv};
use crate::trusted_root::{CertificateAuthority, TrustedRoot};
use crate::x509::{OID_ECDSA_SHA256, OID_ECDSA_SHA384, cert_signed_by, verify_ecdsa};

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_CT_TSTINFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_ATTR_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_ATTR_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_EKU: &str = "2.5.29.37";
const OID_KP_TIMESTAMPING: &str = "1.3.6.1.5.5.7.3.8";
const OID_SKI: &str = "2.5.29.14";
const OID_ATTR_SIGNING_CERT_V2: &str = "1.2.840.113549.1.9.16.2.47";

/// Why a signed timestamp was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("malformed RFC 3161 timestamp: {0}")]
    Malformed(String),
    #[error("timestamp response status is {0} (not granted)")]
    NotGranted(u32),
    #[error("unsupported hash algorithm {0}")]
    UnsupportedHash(String),
    #[error("timestamp is over another message (its imprint is not the hash of the signature)")]
    ImprintMismatch,
    #[error("signed attributes: {0}")]
    SignedAttributes(String),
    #[error("no timestamp authority is trusted")]
    NoTrustedTsa,
    #[error("the token's signer certificate is neither in the token nor a trusted TSA's")]
    SignerNotFound,
    #[error("TSA signature does not verify: {0}")]
    Signature(String),
    #[error("TSA certificate: {0}")]
    Certificate(String),
    #[error("TSA certificate does not chain to a trusted timestamp authority: {0}")]
    Chain(String),
}

fn bad(m: impl Into<String>) -> TimestampError {
    TimestampError::Malformed(m.into())
}

fn oid(t: &Tlv<'_>) -> Result<String, TimestampError> {
    if t.tag != 0x06 {
        return Err(bad("expected an object identifier"));
    }
    <ObjectIdentifier>::from_der(t.whole)
        .map(|o| o.to_string())
        .map_err(|e| bad(e.to_string()))
}

/// The algorithm OID of an AlgorithmIdentifier.
fn alg(t: &Tlv<'_>) -> Result<String, TimestampError> {
    let parts = asn1::children(t.content).map_err(bad)?;
    oid(parts
        .first()
        .ok_or_else(|| bad("empty algorithm identifier"))?)
}

fn hash(alg_oid: &str, data: &[u8]) -> Result<Vec<u8>, TimestampError> {
    Ok(match alg_oid {
        OID_SHA256 => Sha256::digest(data).to_vec(),
        OID_SHA384 => Sha384::digest(data).to_vec(),
        OID_SHA512 => Sha512::digest(data).to_vec(),
        other => return Err(TimestampError::UnsupportedHash(other.to_string())),
    })
}

/// What the TSA asserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TstInfo {
    pub policy: String,
    pub hash_alg: String,
    pub imprint: Vec<u8>,
    /// genTime, Unix seconds (fractions dropped).
    pub gen_time: i64,
}

/// How the CMS signer names its certificate.
#[derive(Debug, Clone)]
enum SignerId {
    IssuerSerial { issuer: Vec<u8>, serial: Vec<u8> },
    KeyId(Vec<u8>),
}

#[derive(Debug, Clone)]
struct SignerInfo {
    sid: SignerId,
    digest_alg: String,
    /// The signed attributes re-tagged as the SET OF they are signed as.
    signed_attrs: Vec<u8>,
    content_type: Option<String>,
    message_digest: Option<Vec<u8>>,
    /// ESS signingCertificateV2 (RFC 5035): (hash algorithm, hash of the signer's cert).
    signing_cert: Option<(String, Vec<u8>)>,
    sig_alg: String,
    signature: Vec<u8>,
}

/// A parsed (not yet verified) timestamp token.
#[derive(Debug, Clone)]
pub struct Token {
    pub info: TstInfo,
    tst_info_der: Vec<u8>,
    certificates: Vec<Certificate>,
    signers: Vec<SignerInfo>,
}

/// Parses a DER TimeStampResp (what Sigstore bundles hold) or a bare TimeStampToken.
pub fn parse(der: &[u8]) -> Result<Token, TimestampError> {
    let outer = asn1::read_only(der, 0x30).map_err(bad)?;
    let parts = asn1::children(outer.content).map_err(bad)?;
    let content_info = match parts.first().map(|p| p.tag) {
        // TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }
        Some(0x30) => {
            let status = asn1::children(parts[0].content).map_err(bad)?;
            let s = status
                .first()
                .filter(|s| s.tag == 0x02 && !s.content.is_empty() && s.content.len() <= 4)
                .ok_or_else(|| bad("PKIStatusInfo has no status"))?;
            let code = s.content.iter().fold(0u32, |a, b| (a << 8) | *b as u32);
            if code > 1 {
                return Err(TimestampError::NotGranted(code));
            }
            *parts
                .get(1)
                .ok_or_else(|| bad("granted response without a token"))?
        }
        Some(0x06) => outer,
        _ => return Err(bad("neither a TimeStampResp nor a ContentInfo")),
    };
    // ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT SignedData }
    let ci = asn1::children(content_info.content).map_err(bad)?;
    if ci.len() != 2 || oid(&ci[0])? != OID_SIGNED_DATA || ci[1].tag != 0xA0 {
        return Err(bad("token is not a CMS SignedData"));
    }
    let sd = asn1::read_only(ci[1].content, 0x30).map_err(bad)?;
    let sd = asn1::children(sd.content).map_err(bad)?;
    if sd.len() < 4 || sd[0].tag != 0x02 || sd[1].tag != 0x31 || sd[2].tag != 0x30 {
        return Err(bad("SignedData fields"));
    }
    // encapContentInfo ::= SEQUENCE { eContentType, [0] EXPLICIT OCTET STRING }
    let encap = asn1::children(sd[2].content).map_err(bad)?;
    if encap.len() != 2 || oid(&encap[0])? != OID_CT_TSTINFO || encap[1].tag != 0xA0 {
        return Err(bad("content is not a TSTInfo"));
    }
    let econtent = asn1::read_only(encap[1].content, 0x04).map_err(bad)?;
    let tst_info_der = econtent.content.to_vec();
    let info = parse_tst_info(&tst_info_der)?;

    let mut certificates = Vec::new();
    let mut signer_infos = None;
    for f in &sd[3..] {
        match f.tag {
            0xA0 => {
                for c in asn1::children(f.content).map_err(bad)? {
                    if c.tag == 0x30 {
                        certificates.push(
                            Certificate::from_der(c.whole)
                                .map_err(|e| bad(format!("certificate: {e}")))?,
                        );
                    }
                }
            }
            0xA1 => {} // CRLs are not used
            0x31 => signer_infos = Some(f.content),
            _ => return Err(bad("unexpected SignedData field")),
        }
    }
    let signers = asn1::children(signer_infos.ok_or_else(|| bad("no signerInfos"))?)
        .map_err(bad)?
        .iter()
        .map(parse_signer_info)
        .collect::<Result<Vec<_>, _>>()?;
    if signers.is_empty() {
        return Err(bad("no signerInfos"));
    }
    Ok(Token {
        info,
        tst_info_der,
        certificates,
        signers,
    })
}

fn parse_tst_info(der: &[u8]) -> Result<TstInfo, TimestampError> {
    let t = asn1::read_only(der, 0x30).map_err(bad)?;
    let f = asn1::children(t.content).map_err(bad)?;
    if f.len() < 5 || f[0].tag != 0x02 || f[2].tag != 0x30 || f[4].tag != 0x18 {
        return Err(bad("TSTInfo fields"));
    }
    let mi = asn1::children(f[2].content).map_err(bad)?;
    if mi.len() != 2 || mi[1].tag != 0x04 {
        return Err(bad("messageImprint"));
    }
    Ok(TstInfo {
        policy: oid(&f[1])?,
        hash_alg: alg(&mi[0])?,
        imprint: mi[1].content.to_vec(),
        gen_time: generalized_time(f[4].content)?,
    })
}

/// `YYYYMMDDHHMMSS[.f*]Z` to Unix seconds.
fn generalized_time(s: &[u8]) -> Result<i64, TimestampError> {
    let s = std::str::from_utf8(s).map_err(|_| bad("genTime is not text"))?;
    let whole = s
        .get(..14)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()) && s.ends_with('Z'));
    let Some(whole) = whole else {
        return Err(bad(format!("genTime '{s}' is not UTC GeneralizedTime")));
    };
    chrono::NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S")
        .map(|t| t.and_utc().timestamp())
        .map_err(|_| bad(format!("genTime '{s}'")))
}

fn parse_signer_info(t: &Tlv<'_>) -> Result<SignerInfo, TimestampError> {
    let f = asn1::children(t.content).map_err(bad)?;
    if f.len() < 6 || f[0].tag != 0x02 {
        return Err(bad("SignerInfo fields"));
    }
    let sid = match f[1].tag {
        0x30 => {
            let p = asn1::children(f[1].content).map_err(bad)?;
            if p.len() != 2 || p[0].tag != 0x30 || p[1].tag != 0x02 {
                return Err(bad("issuerAndSerialNumber"));
            }
            SignerId::IssuerSerial {
                issuer: p[0].whole.to_vec(),
                serial: p[1].whole.to_vec(),
            }
        }
        0x80 => SignerId::KeyId(f[1].content.to_vec()),
        _ => return Err(bad("signer identifier")),
    };
    let digest_alg = alg(&f[2])?;
    // RFC 3161 tokens always have signed attributes (ESS signing certificate at least).
    if f[3].tag != 0xA0 {
        return Err(TimestampError::SignedAttributes("missing".into()));
    }
    let mut content_type = None;
    let mut message_digest = None;
    let mut signing_cert = None;
    for a in asn1::children(f[3].content).map_err(bad)? {
        let p = asn1::children(a.content).map_err(bad)?;
        if p.len() != 2 || p[1].tag != 0x31 {
            return Err(bad("attribute"));
        }
        let values = asn1::children(p[1].content).map_err(bad)?;
        let [v] = values.as_slice() else {
            return Err(TimestampError::SignedAttributes(
                "an attribute must have exactly one value".into(),
            ));
        };
        match oid(&p[0])?.as_str() {
            OID_ATTR_CONTENT_TYPE => content_type = Some(oid(v)?),
            OID_ATTR_MESSAGE_DIGEST if v.tag == 0x04 => message_digest = Some(v.content.to_vec()),
            OID_ATTR_MESSAGE_DIGEST => return Err(bad("message-digest is not an OCTET STRING")),
            OID_ATTR_SIGNING_CERT_V2 => signing_cert = Some(parse_signing_cert_v2(v)?),
            _ => {}
        }
    }
    if f[4].tag != 0x30 || f[5].tag != 0x04 {
        return Err(bad("SignerInfo signature fields"));
    }
    Ok(SignerInfo {
        sid,
        digest_alg,
        signed_attrs: asn1::encode(0x31, f[3].content),
        content_type,
        message_digest,
        signing_cert,
        sig_alg: alg(&f[4])?,
        signature: f[5].content.to_vec(),
    })
}

/// The first ESSCertIDv2 of a SigningCertificateV2: it names the signer's certificate.
fn parse_signing_cert_v2(v: &Tlv<'_>) -> Result<(String, Vec<u8>), TimestampError> {
    let e = || bad("signingCertificateV2");
    let certs = asn1::children(v.content).map_err(bad)?;
    let ids = asn1::children(certs.first().ok_or_else(e)?.content).map_err(bad)?;
    let id = asn1::children(ids.first().ok_or_else(e)?.content).map_err(bad)?;
    match id.as_slice() {
        // hashAlgorithm DEFAULT sha256, certHash, issuerSerial OPTIONAL
        [a, h, ..] if a.tag == 0x30 && h.tag == 0x04 => Ok((alg(a)?, h.content.to_vec())),
        [h, ..] if h.tag == 0x04 => Ok((OID_SHA256.to_string(), h.content.to_vec())),
        _ => Err(e()),
    }
}

impl Token {
    /// Checks that the token stamps `signature` (its imprint is the signature's hash).
    pub fn check_imprint(&self, signature: &[u8]) -> Result<(), TimestampError> {
        if hash(&self.info.hash_alg, signature)? != self.info.imprint {
            return Err(TimestampError::ImprintMismatch);
        }
        Ok(())
    }
}

impl SignerInfo {
    fn names(&self, cert: &Certificate) -> bool {
        let tbs = cert.tbs_certificate();
        match &self.sid {
            SignerId::IssuerSerial { issuer, serial } => {
                tbs.issuer().to_der().is_ok_and(|d| &d == issuer)
                    && tbs.serial_number().to_der().is_ok_and(|d| &d == serial)
            }
            SignerId::KeyId(id) => extension(cert, OID_SKI)
                .and_then(|v| {
                    asn1::read_only(v, 0x04)
                        .ok()
                        .map(|t| t.content == id.as_slice())
                })
                .unwrap_or(false),
        }
    }

    /// The CMS signature over the signed attributes, which must bind the TSTInfo.
    fn verify(&self, cert: &Certificate, tst_info_der: &[u8]) -> Result<(), TimestampError> {
        let attr = |m: &str| TimestampError::SignedAttributes(m.to_string());
        if self.content_type.as_deref() != Some(OID_CT_TSTINFO) {
            return Err(attr("content-type is missing or not TSTInfo"));
        }
        let md = self
            .message_digest
            .as_ref()
            .ok_or_else(|| attr("message-digest is missing"))?;
        if let Some((alg, cert_hash)) = &self.signing_cert {
            let der = cert.to_der().map_err(|e| bad(e.to_string()))?;
            if &hash(alg, &der)? != cert_hash {
                return Err(attr(
                    "signingCertificateV2 names another certificate than the signer's",
                ));
            }
        }
        if &hash(&self.digest_alg, tst_info_der)? != md {
            return Err(attr("message-digest is not the hash of the TSTInfo"));
        }
        let alg = match (self.sig_alg.as_str(), self.digest_alg.as_str()) {
            (OID_ECDSA_SHA256 | OID_ECDSA_SHA384, _) => self.sig_alg.as_str(),
            (OID_EC_PUBLIC_KEY, OID_SHA256) => OID_ECDSA_SHA256,
            (OID_EC_PUBLIC_KEY, OID_SHA384) => OID_ECDSA_SHA384,
            (other, _) => {
                return Err(TimestampError::Signature(format!(
                    "unsupported signature algorithm {other} (only ECDSA with SHA-256/384)"
                )));
            }
        };
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| bad(e.to_string()))?;
        verify_ecdsa(&spki, alg, &self.signed_attrs, &self.signature)
            .map_err(TimestampError::Signature)
    }
}

fn extension<'a>(cert: &'a Certificate, oid: &str) -> Option<&'a [u8]> {
    cert.tbs_certificate()
        .extensions()?
        .iter()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| e.extn_value.as_bytes())
}

/// RFC 3161 §2.3: the TSA certificate has exactly one, critical, extendedKeyUsage:
/// timeStamping.
fn check_timestamping_cert(cert: &Certificate, time: i64) -> Result<(), TimestampError> {
    let err = |m: &str| TimestampError::Certificate(m.to_string());
    let ext = cert
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == OID_EKU)
        .ok_or_else(|| err("has no extendedKeyUsage (timeStamping required)"))?;
    let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
        .map_err(|e| err(&e.to_string()))?;
    if !ext.critical || eku.0.len() != 1 || eku.0[0].to_string() != OID_KP_TIMESTAMPING {
        return Err(err(
            "extendedKeyUsage must be timeStamping only, and critical",
        ));
    }
    let v = cert.tbs_certificate().validity();
    let (nb, na) = (
        v.not_before.to_unix_duration().as_secs() as i64,
        v.not_after.to_unix_duration().as_secs() as i64,
    );
    if time < nb || time > na {
        return Err(err(&format!(
            "not valid at the stamped time {}",
            crate::image::rfc3339(time)
        )));
    }
    Ok(())
}

/// Whether `cert` is one of `ca`'s certificates, or was issued by one of them.
fn chains_to(cert: &Certificate, ca: &CertificateAuthority) -> Result<(), String> {
    let der = cert.to_der().map_err(|e| e.to_string())?;
    if ca.chain.iter().any(|c| c == &der) {
        return Ok(());
    }
    for c in &ca.chain {
        let Ok(issuer) = Certificate::from_der(c) else {
            continue;
        };
        if issuer.tbs_certificate().subject() == cert.tbs_certificate().issuer()
            && cert_signed_by(cert, &issuer).is_ok()
        {
            return Ok(());
        }
    }
    Err("not issued by any certificate of the trusted TSA chains".into())
}

/// Verifies a signed timestamp (DER TimeStampResp or token) over `signature` against the
/// trusted timestamp authorities; returns the stamped time (Unix seconds). Public
/// through [`TrustedRoot::verify_timestamp`].
pub(crate) fn verify(
    der: &[u8],
    signature: &[u8],
    tsas: &[CertificateAuthority],
) -> Result<i64, TimestampError> {
    if tsas.is_empty() {
        return Err(TimestampError::NoTrustedTsa);
    }
    let token = parse(der)?;
    token.check_imprint(signature)?;
    let time = token.info.gen_time;
    // Candidate signer certificates: those in the token, and the trusted chains' own.
    let trusted: Vec<Certificate> = tsas
        .iter()
        .flat_map(|ca| ca.chain.iter())
        .filter_map(|c| Certificate::from_der(c).ok())
        .collect();
    let mut reasons = Vec::new();
    let mut found = false;
    for signer in &token.signers {
        for cert in token.certificates.iter().chain(&trusted) {
            if !signer.names(cert) {
                continue;
            }
            found = true;
            let r = signer
                .verify(cert, &token.tst_info_der)
                .and_then(|()| check_timestamping_cert(cert, time))
                .and_then(|()| {
                    let mut why = Vec::new();
                    for ca in tsas {
                        if !ca.valid_for.contains(time) {
                            why.push("TSA not trusted at the stamped time".to_string());
                            continue;
                        }
                        match chains_to(cert, ca) {
                            Ok(()) => return Ok(()),
                            Err(e) => why.push(e),
                        }
                    }
                    Err(TimestampError::Chain(why.join("; ")))
                });
            match r {
                Ok(()) => return Ok(time),
                Err(e) => reasons.push(e),
            }
        }
    }
    if !found {
        return Err(TimestampError::SignerNotFound);
    }
    Err(reasons.remove(0))
}

/// The DER timestamps a bundle's `timestampVerificationData` holds.
pub fn bundle_timestamps(tvd: Option<&serde_json::Value>) -> Result<Vec<Vec<u8>>, TimestampError> {
    use base64::Engine;
    let Some(list) = tvd.and_then(|t| t.get("rfc3161Timestamps")) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| bad("rfc3161Timestamps is not a list"))?;
    list.iter()
        .map(|t| {
            let b64 = t["signedTimestamp"]
                .as_str()
                .ok_or_else(|| bad("signedTimestamp missing"))?;
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| bad("signedTimestamp is not base64"))
        })
        .collect()
}

impl TrustedRoot {
    /// Verifies a signed timestamp over `signature` against this root's timestamp
    /// authorities; returns the stamped time.
    pub fn verify_timestamp(&self, der: &[u8], signature: &[u8]) -> Result<i64, TimestampError> {
        verify(der, signature, &self.tsas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_time_is_utc_only() {
        assert!(matches!(
            generalized_time(b"20260409072329Z"),
            Ok(1_775_719_409)
        ));
        assert!(matches!(
            generalized_time(b"20260409072329.123Z"),
            Ok(1_775_719_409)
        ));
        assert!(generalized_time(b"20260409072329+0100").is_err());
        assert!(generalized_time(b"2026040907Z").is_err());
    }
}
