//! Trust material from PEM files, cosign's alternative to a `trusted_root.json`:
//! `--ca-roots` (root CAs), `--ca-intermediates`, `--certificate-chain` (intermediates and
//! root in one file), `--rekor-public-key` and `--ctlog-public-key`.
//!
//! PEM files carry no validity windows: a CA counts for the time its certificates (the
//! intermediate and every certificate above it) are themselves valid, and a log key for
//! all time. Intermediates are not trusted on their own: each must chain, signature by
//! signature, to one of the given roots, or loading fails.

use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

use crate::pem;
use crate::trusted_root::{CertificateAuthority, LogKey, TrustError, TrustedRoot, Validity};
use crate::x509::cert_signed_by;

/// Longest intermediate chain followed up to a root (Fulcio has one intermediate).
const MAX_CHAIN_DEPTH: usize = 5;

/// PEM trust material before it becomes a [`TrustedRoot`].
#[derive(Debug, Default, Clone)]
pub struct PemTrust {
    /// Root CA certificates (DER): the trust anchors.
    pub roots: Vec<Vec<u8>>,
    /// Intermediate CA certificates (DER), trusted only through a root.
    pub intermediates: Vec<Vec<u8>>,
    /// Rekor public keys (SPKI DER).
    pub rekor_keys: Vec<Vec<u8>>,
    /// Certificate Transparency log public keys (SPKI DER).
    pub ctlog_keys: Vec<Vec<u8>>,
}

fn err(m: impl Into<String>) -> TrustError {
    TrustError(m.into())
}

/// Every `CERTIFICATE` block of a PEM text, checked to be DER X.509.
pub fn certificates_from_pem(what: &str, text: &str) -> Result<Vec<Vec<u8>>, TrustError> {
    let blocks = pem::parse_all(text).map_err(|e| err(format!("{what}: {e}")))?;
    let mut out = Vec::new();
    for b in blocks.into_iter().filter(|b| b.label == "CERTIFICATE") {
        Certificate::from_der(&b.contents)
            .map_err(|e| err(format!("{what}: not an X.509 certificate: {e}")))?;
        out.push(b.contents);
    }
    if out.is_empty() {
        return Err(err(format!("{what}: no CERTIFICATE PEM block")));
    }
    Ok(out)
}

/// Every `PUBLIC KEY` block of a PEM text (SPKI DER), checked to be ECDSA P-256 or P-384.
pub fn public_keys_from_pem(what: &str, text: &str) -> Result<Vec<Vec<u8>>, TrustError> {
    use p256::pkcs8::DecodePublicKey;
    let blocks = pem::parse_all(text).map_err(|e| err(format!("{what}: {e}")))?;
    let mut out = Vec::new();
    for b in blocks.into_iter().filter(|b| b.label == "PUBLIC KEY") {
        let ok = p256::ecdsa::VerifyingKey::from_public_key_der(&b.contents).is_ok()
            || p384::ecdsa::VerifyingKey::from_public_key_der(&b.contents).is_ok();
        if !ok {
            return Err(err(format!(
                "{what}: only ECDSA P-256/P-384 public keys are supported"
            )));
        }
        out.push(b.contents);
    }
    if out.is_empty() {
        return Err(err(format!("{what}: no PUBLIC KEY PEM block")));
    }
    Ok(out)
}

/// True for a self-issued certificate whose signature verifies with its own key: the
/// root at the end of cosign's `--certificate-chain`.
fn is_self_signed(cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    tbs.subject() == tbs.issuer() && cert_signed_by(cert, cert).is_ok()
}

impl PemTrust {
    /// Splits cosign's `--certificate-chain` (intermediates, then the root) into roots
    /// (self-signed) and intermediates.
    pub fn add_chain(&mut self, text: &str) -> Result<(), TrustError> {
        for der in certificates_from_pem("certificate chain", text)? {
            let cert = Certificate::from_der(&der).expect("checked");
            if is_self_signed(&cert) {
                self.roots.push(der);
            } else {
                self.intermediates.push(der);
            }
        }
        if self.roots.is_empty() {
            return Err(err(
                "certificate chain: no self-signed root certificate in it",
            ));
        }
        Ok(())
    }

    /// Builds the trusted root: one certificate authority per root, and one per
    /// intermediate that chains to a root.
    pub fn into_trusted_root(self) -> Result<TrustedRoot, TrustError> {
        if self.roots.is_empty() {
            return Err(err("no root CA certificate given"));
        }
        if self.rekor_keys.is_empty() {
            return Err(err(
                "no transparency log key: give --rekor-public-key (or SIGSTORE_REKOR_PUBLIC_KEY) \
                 with PEM roots, or use a trusted_root.json",
            ));
        }
        let parse = |d: &Vec<u8>| Certificate::from_der(d).map_err(|e| err(e.to_string()));
        let roots = self
            .roots
            .iter()
            .map(parse)
            .collect::<Result<Vec<_>, _>>()?;
        let inters = self
            .intermediates
            .iter()
            .map(parse)
            .collect::<Result<Vec<_>, _>>()?;
        for (i, c) in roots.iter().chain(&inters).enumerate() {
            if !is_ca(c) {
                return Err(err(format!(
                    "certificate {} ({}) is not a CA (basicConstraints cA is not set)",
                    i + 1,
                    c.tbs_certificate().subject()
                )));
            }
        }
        let mut cas = Vec::new();
        for root in &roots {
            cas.push(authority(vec![root])?);
        }
        for inter in &inters {
            let chain = chain_to_root(inter, &inters, &roots, 0).ok_or_else(|| {
                err(format!(
                    "intermediate '{}' does not chain to any given root CA",
                    inter.tbs_certificate().subject()
                ))
            })?;
            cas.push(authority(chain)?);
        }
        Ok(TrustedRoot {
            cas,
            tlogs: self.rekor_keys.into_iter().map(LogKey::always).collect(),
            ctlogs: self.ctlog_keys.into_iter().map(LogKey::always).collect(),
            ..TrustedRoot::empty()
        })
    }
}

fn is_ca(cert: &Certificate) -> bool {
    use x509_cert::ext::pkix::BasicConstraints;
    cert.tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == "2.5.29.19")
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|bc| bc.ca)
}

/// `cert`, its issuers, up to a root; signatures checked at every step.
fn chain_to_root<'a>(
    cert: &'a Certificate,
    inters: &'a [Certificate],
    roots: &'a [Certificate],
    depth: usize,
) -> Option<Vec<&'a Certificate>> {
    if depth > MAX_CHAIN_DEPTH {
        return None;
    }
    let issued_by = |c: &Certificate| {
        c.tbs_certificate().subject() == cert.tbs_certificate().issuer()
            && cert_signed_by(cert, c).is_ok()
    };
    if let Some(root) = roots.iter().find(|r| issued_by(r)) {
        return Some(vec![cert, root]);
    }
    for up in inters.iter().filter(|c| !std::ptr::eq(*c, cert)) {
        if issued_by(up)
            && let Some(mut rest) = chain_to_root(up, inters, roots, depth + 1)
        {
            rest.insert(0, cert);
            return Some(rest);
        }
    }
    None
}

/// A CA whose validity is where all of its chain's certificates are valid.
fn authority(chain: Vec<&Certificate>) -> Result<CertificateAuthority, TrustError> {
    let mut start = i64::MIN;
    let mut end = i64::MAX;
    let mut ders = Vec::new();
    for c in chain {
        let v = c.tbs_certificate().validity();
        start = start.max(v.not_before.to_unix_duration().as_secs() as i64);
        end = end.min(v.not_after.to_unix_duration().as_secs() as i64);
        ders.push(c.to_der().map_err(|e| err(e.to_string()))?);
    }
    Ok(CertificateAuthority {
        chain: ders,
        valid_for: Validity {
            start,
            end: Some(end),
        },
    })
}

impl TrustedRoot {
    /// Trusts a timestamp authority given as cosign's `--timestamp-certificate-chain`:
    /// PEM certificates from the TSA's own certificate up to its self-signed root, each
    /// signed by the next. Trusted while all of them are valid.
    pub fn with_timestamp_chain(mut self, pem_text: &str) -> Result<Self, TrustError> {
        let ders = certificates_from_pem("timestamp certificate chain", pem_text)?;
        let certs = ders
            .iter()
            .map(|d| Certificate::from_der(d).map_err(|e| err(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        for pair in certs.windows(2) {
            if pair[0].tbs_certificate().issuer() != pair[1].tbs_certificate().subject()
                || cert_signed_by(&pair[0], &pair[1]).is_err()
            {
                return Err(err(format!(
                    "timestamp certificate chain: '{}' is not issued by the next certificate '{}' \
                     (order: TSA certificate first, root last)",
                    pair[0].tbs_certificate().subject(),
                    pair[1].tbs_certificate().subject()
                )));
            }
        }
        let last = certs.last().expect("at least one");
        if !is_self_signed(last) {
            return Err(err(
                "timestamp certificate chain: the last certificate is not a self-signed root",
            ));
        }
        self.tsas.push(authority(certs.iter().collect())?);
        Ok(self)
    }
}
