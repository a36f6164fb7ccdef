//! What is trusted for keyless verification: Fulcio CAs, Rekor and CT log keys and
//! timestamp authorities, each with the time window it is trusted for. Read from a
//! Sigstore `trusted_root.json` here, or built from PEM files in [`crate::roots`].
//!
//! This sits below `keyless`, [`crate::sct`] and [`crate::timestamp`]: all three read
//! the same root, and keeping it out of `keyless` lets the dependencies point one way
//! (keyless → sct, timestamp → trusted_root).

use serde::Deserialize;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::bundle;
use crate::decode::{b64, parse_rfc3339};

/// Why trust material could not be loaded (a trusted_root.json or PEM files).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trusted root: {0}")]
pub struct TrustError(pub String);

/// When a CA or log key is trusted (Unix seconds, inclusive; no end = still trusted).
#[derive(Debug, Clone)]
pub(crate) struct Validity {
    pub(crate) start: i64,
    pub(crate) end: Option<i64>,
}

impl Validity {
    /// Trusted for all time: how PEM files (which carry no window) are trusted.
    pub(crate) const ALWAYS: Self = Self {
        start: i64::MIN,
        end: None,
    };

    pub(crate) fn contains(&self, t: i64) -> bool {
        t >= self.start && self.end.is_none_or(|e| t <= e)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CertificateAuthority {
    /// DER certificates, issuing CA first.
    pub(crate) chain: Vec<Vec<u8>>,
    pub(crate) valid_for: Validity,
}

/// A transparency log (Rekor) or Certificate Transparency log key.
#[derive(Debug, Clone)]
pub(crate) struct LogKey {
    /// SHA-256 of the SPKI DER: how entries and SCTs name their log.
    pub(crate) key_id: Vec<u8>,
    pub(crate) spki: Vec<u8>,
    pub(crate) valid_for: Validity,
}

impl LogKey {
    /// A log trusted for all time, identified as logs are: SHA-256 of its SPKI DER.
    pub(crate) fn always(spki: Vec<u8>) -> Self {
        Self {
            key_id: Sha256::digest(&spki).to_vec(),
            spki,
            valid_for: Validity::ALWAYS,
        }
    }
}

/// The parts of a Sigstore `trusted_root.json` used for offline verification (or the
/// same built from PEM files, see [`crate::roots`]), and how strictly to use them.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub(crate) cas: Vec<CertificateAuthority>,
    pub(crate) tlogs: Vec<LogKey>,
    pub(crate) ctlogs: Vec<LogKey>,
    /// RFC 3161 timestamp authorities: each chain is [TSA certificate, ..., root].
    pub(crate) tsas: Vec<CertificateAuthority>,
    /// cosign checks the certificate's embedded SCT by default; `--insecure-ignore-sct`.
    pub(crate) require_sct: bool,
}

#[derive(Deserialize)]
struct RootJson {
    #[serde(rename = "certificateAuthorities", default)]
    certificate_authorities: Vec<CaJson>,
    #[serde(default)]
    tlogs: Vec<TlogJson>,
    #[serde(default)]
    ctlogs: Vec<TlogJson>,
    #[serde(rename = "timestampAuthorities", default)]
    timestamp_authorities: Vec<CaJson>,
}

#[derive(Deserialize)]
struct CaJson {
    #[serde(rename = "certChain")]
    cert_chain: CertChainJson,
    #[serde(rename = "validFor")]
    valid_for: Option<ValidForJson>,
}

#[derive(Deserialize)]
struct CertChainJson {
    certificates: Vec<bundle::RawBytes>,
}

#[derive(Deserialize)]
struct ValidForJson {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
struct TlogJson {
    #[serde(rename = "publicKey")]
    public_key: TlogKeyJson,
    #[serde(rename = "logId")]
    log_id: LogIdJson,
}

#[derive(Deserialize)]
struct TlogKeyJson {
    #[serde(rename = "rawBytes")]
    raw_bytes: String,
    #[serde(rename = "validFor")]
    valid_for: Option<ValidForJson>,
}

#[derive(Deserialize)]
struct LogIdJson {
    #[serde(rename = "keyId")]
    key_id: String,
}

fn validity(v: Option<&ValidForJson>) -> Result<Validity, TrustError> {
    let time = |s: &str| parse_rfc3339(s).ok_or_else(|| TrustError(format!("bad time '{s}'")));
    let start = match v.and_then(|v| v.start.as_deref()) {
        Some(s) => time(s)?,
        None => i64::MIN,
    };
    let end = match v.and_then(|v| v.end.as_deref()) {
        Some(s) => Some(time(s)?),
        None => None,
    };
    Ok(Validity { start, end })
}

fn log_keys(list: &[TlogJson]) -> Result<Vec<LogKey>, TrustError> {
    list.iter()
        .map(|t| {
            Ok(LogKey {
                key_id: b64("log id", &t.log_id.key_id).map_err(TrustError)?,
                spki: b64("log key", &t.public_key.raw_bytes).map_err(TrustError)?,
                valid_for: validity(t.public_key.valid_for.as_ref())?,
            })
        })
        .collect()
}

fn authorities(list: &[CaJson]) -> Result<Vec<CertificateAuthority>, TrustError> {
    let mut cas = Vec::new();
    for ca in list {
        let chain = ca
            .cert_chain
            .certificates
            .iter()
            .map(|c| b64("CA certificate", &c.raw_bytes))
            .collect::<Result<Vec<_>, _>>()
            .map_err(TrustError)?;
        for der in &chain {
            Certificate::from_der(der).map_err(|e| TrustError(format!("CA certificate: {e}")))?;
        }
        cas.push(CertificateAuthority {
            chain,
            valid_for: validity(ca.valid_for.as_ref())?,
        });
    }
    Ok(cas)
}

impl TrustedRoot {
    /// Reads a Sigstore `trusted_root.json`; it must name at least one CA and one
    /// transparency log key.
    pub fn parse(json: &[u8]) -> Result<Self, TrustError> {
        let root: RootJson = serde_json::from_slice(json)
            .map_err(|e| TrustError(format!("not a trusted_root.json: {e}")))?;
        let cas = authorities(&root.certificate_authorities)?;
        let tsas = authorities(&root.timestamp_authorities)?;
        let tlogs = log_keys(&root.tlogs)?;
        let ctlogs = log_keys(&root.ctlogs)?;
        if cas.is_empty() {
            return Err(TrustError("no certificate authorities".into()));
        }
        if tlogs.is_empty() {
            return Err(TrustError("no transparency log keys".into()));
        }
        Ok(Self {
            cas,
            tlogs,
            ctlogs,
            tsas,
            ..Self::empty()
        })
    }

    /// Nothing trusted yet; SCTs required (cosign's default).
    pub(crate) fn empty() -> Self {
        Self {
            cas: Vec::new(),
            tlogs: Vec::new(),
            ctlogs: Vec::new(),
            tsas: Vec::new(),
            require_sct: true,
        }
    }

    /// Skips the check of the certificate's embedded SCTs (cosign's
    /// `--insecure-ignore-sct`): the certificate then need not have been logged in a
    /// trusted Certificate Transparency log.
    pub fn insecure_ignore_sct(mut self) -> Self {
        self.require_sct = false;
        self
    }

    /// Adds Certificate Transparency log keys (SPKI DER), trusted for all time.
    pub fn with_ctlog_keys(mut self, keys: Vec<Vec<u8>>) -> Self {
        self.ctlogs.extend(keys.into_iter().map(LogKey::always));
        self
    }

    /// The transparency log (Rekor) key an entry names by its log ID.
    pub(crate) fn log_key(&self, key_id: &[u8]) -> Option<&LogKey> {
        self.tlogs.iter().find(|k| k.key_id == key_id)
    }
}
