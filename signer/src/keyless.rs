//! Keyless (Fulcio certificate) verification, offline against a Sigstore trusted root.
//!
//! A keyless signature is trusted when: the signing certificate chains to a Fulcio CA of the
//! trusted root; the signature verifies with the certificate's key; the transparency log
//! entry is signed by a trusted Rekor key (signed entry timestamp and/or checkpoint with a
//! Merkle inclusion proof), binds exactly this signature and certificate, and its
//! integration time lies inside the certificate's validity; and the certificate's
//! identity and OIDC issuer match the policy.
//!
//! Keyless *signing* needs an OIDC token, Fulcio and Rekor, none reachable here: the seam
//! is [`KeylessSigner`], to be implemented by a client of those services.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::bundle::{self, Bundle};
use crate::dsse;
use crate::image::{self, FoundKind, Report, Target};
use wharf_oci::Client as Registry;

/// Why keyless verification failed. Each variant names the check that failed.
#[derive(Debug, thiserror::Error)]
pub enum KeylessError {
    #[error("trusted root: {0}")]
    TrustedRoot(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("certificate chain: {0}")]
    Chain(String),
    #[error("signature: {0}")]
    Signature(String),
    #[error("transparency log: {0}")]
    Tlog(String),
    #[error("identity: {0}")]
    Identity(String),
    #[error("certificate transparency: {0}")]
    Sct(#[from] crate::sct::SctError),
    #[error("signed timestamp: {0}")]
    Timestamp(#[from] crate::timestamp::TimestampError),
    #[error("statement: {0}")]
    Statement(String),
    #[error("bad policy: {0}")]
    Policy(String),
}

/// The seam for keyless signing: obtain a short-lived certificate for an ephemeral key
/// (OIDC → Fulcio) and log the signature (Rekor). Not implemented here: no such services
/// are reachable, and faking them would prove nothing.
pub trait KeylessSigner {
    /// Returns the certificate chain (leaf first, DER) for the ephemeral public key.
    fn certificate_for(&self, public_key_spki_der: &[u8]) -> Result<Vec<Vec<u8>>, KeylessError>;
    /// Uploads the signed entry; returns the bundle's `tlogEntries[]` JSON object.
    fn log_entry(
        &self,
        envelope: &dsse::Envelope,
        leaf_der: &[u8],
    ) -> Result<serde_json::Value, KeylessError>;
}

// ---------------------------------------------------------------------------------------
// Trusted root

/// When a CA or log key is trusted (Unix seconds, inclusive; no end = still trusted).
#[derive(Debug, Clone)]
pub(crate) struct Validity {
    pub(crate) start: i64,
    pub(crate) end: Option<i64>,
}

impl Validity {
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

fn b64(what: &str, s: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(s.trim())
        .map_err(|_| format!("{what} is not base64"))
}

fn validity(v: Option<&ValidForJson>) -> Result<Validity, String> {
    let start = match v.and_then(|v| v.start.as_deref()) {
        Some(s) => parse_rfc3339(s).ok_or_else(|| format!("bad time '{s}'"))?,
        None => i64::MIN,
    };
    let end = match v.and_then(|v| v.end.as_deref()) {
        Some(s) => Some(parse_rfc3339(s).ok_or_else(|| format!("bad time '{s}'"))?),
        None => None,
    };
    Ok(Validity { start, end })
}

impl TrustedRoot {
    pub fn parse(json: &[u8]) -> Result<Self, KeylessError> {
        let root: RootJson = serde_json::from_slice(json)
            .map_err(|e| KeylessError::TrustedRoot(format!("not a trusted_root.json: {e}")))?;
        let cas = Self::authorities(&root.certificate_authorities)?;
        let tsas = Self::authorities(&root.timestamp_authorities)?;
        let logs = |list: &[TlogJson]| -> Result<Vec<LogKey>, KeylessError> {
            list.iter()
                .map(|t| {
                    Ok(LogKey {
                        key_id: b64("log id", &t.log_id.key_id)
                            .map_err(KeylessError::TrustedRoot)?,
                        spki: b64("log key", &t.public_key.raw_bytes)
                            .map_err(KeylessError::TrustedRoot)?,
                        valid_for: validity(t.public_key.valid_for.as_ref())
                            .map_err(KeylessError::TrustedRoot)?,
                    })
                })
                .collect()
        };
        let tlogs = logs(&root.tlogs)?;
        let ctlogs = logs(&root.ctlogs)?;
        if cas.is_empty() {
            return Err(KeylessError::TrustedRoot(
                "no certificate authorities".into(),
            ));
        }
        if tlogs.is_empty() {
            return Err(KeylessError::TrustedRoot("no transparency log keys".into()));
        }
        Ok(Self {
            cas,
            tlogs,
            ctlogs,
            tsas,
            ..Self::empty()
        })
    }

    fn authorities(list: &[CaJson]) -> Result<Vec<CertificateAuthority>, KeylessError> {
        let mut cas = Vec::new();
        for ca in list {
            let chain = ca
                .cert_chain
                .certificates
                .iter()
                .map(|c| b64("CA certificate", &c.raw_bytes))
                .collect::<Result<Vec<_>, _>>()
                .map_err(KeylessError::TrustedRoot)?;
            for der in &chain {
                Certificate::from_der(der)
                    .map_err(|e| KeylessError::TrustedRoot(format!("CA certificate: {e}")))?;
            }
            cas.push(CertificateAuthority {
                chain,
                valid_for: validity(ca.valid_for.as_ref()).map_err(KeylessError::TrustedRoot)?,
            });
        }
        Ok(cas)
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
        for spki in keys {
            self.ctlogs.push(LogKey {
                key_id: Sha256::digest(&spki).to_vec(),
                spki,
                valid_for: Validity {
                    start: i64::MIN,
                    end: None,
                },
            });
        }
        self
    }

    fn log_key(&self, key_id: &[u8]) -> Option<&LogKey> {
        self.tlogs.iter().find(|k| k.key_id == key_id)
    }
}

// ---------------------------------------------------------------------------------------
// Identity policy

enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    fn matches(&self, s: &str) -> bool {
        match self {
            Self::Exact(e) => e == s,
            Self::Regex(r) => r.is_match(s),
        }
    }
    fn describe(&self) -> String {
        match self {
            Self::Exact(e) => format!("'{e}'"),
            Self::Regex(r) => format!("/{}/", r.as_str()),
        }
    }
}

/// Which certificate identity and OIDC issuer are acceptable (both required, as cosign does).
pub struct IdentityPolicy {
    identity: Matcher,
    issuer: Matcher,
}

impl IdentityPolicy {
    pub fn new(
        identity: Option<&str>,
        identity_regexp: Option<&str>,
        issuer: Option<&str>,
        issuer_regexp: Option<&str>,
    ) -> Result<Self, KeylessError> {
        let pick = |exact: Option<&str>,
                    re: Option<&str>,
                    what: &str|
         -> Result<Matcher, KeylessError> {
            match (exact, re) {
                (Some(e), None) => Ok(Matcher::Exact(e.to_string())),
                (None, Some(r)) => regex::Regex::new(r)
                    .map(Matcher::Regex)
                    .map_err(|e| KeylessError::Policy(format!("{what} regexp: {e}"))),
                (Some(_), Some(_)) => Err(KeylessError::Policy(format!(
                    "give either --certificate-{what} or --certificate-{what}-regexp, not both"
                ))),
                (None, None) => Err(KeylessError::Policy(format!(
                    "keyless verification needs --certificate-{what} or --certificate-{what}-regexp"
                ))),
            }
        };
        Ok(Self {
            identity: pick(identity, identity_regexp, "identity")?,
            issuer: pick(issuer, issuer_regexp, "oidc-issuer")?,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Certificates

/// What a verified signing certificate says about its holder.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CertIdentity {
    pub subject: String,
    pub issuer: String,
}

const OID_SAN: &str = "2.5.29.17";
const OID_FULCIO_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const OID_FULCIO_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";

fn parse_cert(der: &[u8]) -> Result<Certificate, KeylessError> {
    Certificate::from_der(der)
        .map_err(|e| KeylessError::Certificate(format!("not a DER X.509 certificate: {e}")))
}

/// Verifies an ECDSA (P-256 or P-384) signature with SHA-256 or SHA-384 over `msg`.
pub(crate) fn verify_ecdsa(
    spki_der: &[u8],
    alg_oid: &str,
    msg: &[u8],
    sig_der: &[u8],
) -> Result<(), String> {
    use crate::ecdsa::{self, Hash};
    let hash = match alg_oid {
        OID_ECDSA_SHA256 => Hash::Sha256,
        OID_ECDSA_SHA384 => Hash::Sha384,
        other => return Err(format!("unsupported signature algorithm {other}")),
    };
    let ok = if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(spki_der) {
        ecdsa::verify_p256(&k, hash, msg, sig_der)
    } else if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(spki_der) {
        ecdsa::verify_p384(&k, hash, msg, sig_der)
    } else {
        return Err("issuer key is not ECDSA P-256 or P-384".into());
    };
    if ok {
        Ok(())
    } else {
        Err("signature does not verify".into())
    }
}

fn spki_der(cert: &Certificate) -> Result<Vec<u8>, KeylessError> {
    cert.tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| KeylessError::Certificate(e.to_string()))
}

/// Checks that `cert`'s signature verifies with `issuer`'s public key (names and
/// validity are the caller's business).
pub(crate) fn cert_signed_by(cert: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let tbs_der = cert.tbs_certificate().to_der().map_err(|e| e.to_string())?;
    let sig = cert
        .signature()
        .as_bytes()
        .ok_or("signature has unused bits")?;
    let spki = issuer
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| e.to_string())?;
    verify_ecdsa(
        &spki,
        &cert.signature_algorithm().oid.to_string(),
        &tbs_der,
        sig,
    )
}

/// Checks that `leaf_der` was issued by a trusted Fulcio CA valid at `time`, that the
/// leaf itself was valid at `time`, and (unless the root says to ignore them) that it
/// carries a valid SCT from a trusted CT log. Returns the leaf.
fn verify_chain(
    root: &TrustedRoot,
    leaf_der: &[u8],
    time: i64,
) -> Result<Certificate, KeylessError> {
    verify_chain_at(root, leaf_der, &[time])
}

/// [`verify_chain`] at every one of `times` (log integration time, signed timestamps).
fn verify_chain_at(
    root: &TrustedRoot,
    leaf_der: &[u8],
    times: &[i64],
) -> Result<Certificate, KeylessError> {
    let (first, rest) = times
        .split_first()
        .ok_or_else(|| KeylessError::Tlog("no verified time for the signature".into()))?;
    let (leaf, issuer) = verify_issuer(root, leaf_der, *first)?;
    for t in rest {
        verify_issuer(root, leaf_der, *t)?;
    }
    if root.require_sct {
        crate::sct::verify_embedded(&leaf, &issuer, root)?;
    }
    Ok(leaf)
}

/// The certificate checks of [`verify_chain`] without the SCT: returns the leaf and
/// the CA certificate that issued it.
fn verify_issuer(
    root: &TrustedRoot,
    leaf_der: &[u8],
    time: i64,
) -> Result<(Certificate, Certificate), KeylessError> {
    let leaf = parse_cert(leaf_der)?;
    let tbs = leaf.tbs_certificate();
    let nb = tbs.validity().not_before.to_unix_duration().as_secs() as i64;
    let na = tbs.validity().not_after.to_unix_duration().as_secs() as i64;
    if time < nb || time > na {
        return Err(KeylessError::Certificate(format!(
            "not valid at the signing time {} (valid {} to {})",
            image::rfc3339(time),
            image::rfc3339(nb),
            image::rfc3339(na)
        )));
    }
    let issuer_der = tbs
        .issuer()
        .to_der()
        .map_err(|e| KeylessError::Certificate(e.to_string()))?;
    let mut reasons = Vec::new();
    for ca in &root.cas {
        let Some(issuer) = ca.chain.first() else {
            continue;
        };
        let issuer = parse_cert(issuer)?;
        let subject_der = issuer
            .tbs_certificate()
            .subject()
            .to_der()
            .map_err(|e| KeylessError::Certificate(e.to_string()))?;
        if subject_der != issuer_der {
            continue;
        }
        if !ca.valid_for.contains(time) {
            reasons.push("issuing CA was not trusted at the signing time".to_string());
            continue;
        }
        match cert_signed_by(&leaf, &issuer) {
            Ok(()) => return Ok((leaf, issuer)),
            Err(e) => reasons.push(format!("certificate signature by the CA: {e}")),
        }
    }
    Err(KeylessError::Chain(if reasons.is_empty() {
        "certificate was not issued by any CA of the trusted root".into()
    } else {
        reasons.join("; ")
    }))
}

/// The identity a PEM certificate claims, NOT verified against any root: for showing
/// who signed (a registry listing signatures), never for deciding.
pub fn claimed_identity(cert_pem: &str) -> Result<CertIdentity, KeylessError> {
    let der = crate::pem::parse_first(cert_pem)
        .map_err(|e| KeylessError::Certificate(e.to_string()))?
        .contents;
    cert_identity(&parse_cert(&der)?)
}

/// The identity a Sigstore bundle's certificate claims, for display only (nothing verified).
pub fn bundle_claimed_identity(bytes: &[u8]) -> Result<CertIdentity, KeylessError> {
    let bundle = Bundle::parse(bytes).map_err(KeylessError::Statement)?;
    let leaf_b64 = bundle
        .verification_material
        .leaf_certificate_b64()
        .ok_or_else(|| KeylessError::Certificate("bundle has no signing certificate".into()))?;
    let der = b64("certificate", leaf_b64).map_err(KeylessError::Certificate)?;
    cert_identity(&parse_cert(&der)?)
}

/// Reads the SAN (URI or email) and the Fulcio OIDC issuer extension.
fn cert_identity(cert: &Certificate) -> Result<CertIdentity, KeylessError> {
    let exts = cert.tbs_certificate().extensions().ok_or_else(|| {
        KeylessError::Certificate("no extensions (not a Fulcio certificate)".into())
    })?;
    let mut subject = None;
    let mut issuer = None;
    for ext in exts.iter() {
        let oid = ext.extn_id.to_string();
        let value = ext.extn_value.as_bytes();
        match oid.as_str() {
            OID_SAN => {
                let san = SubjectAltName::from_der(value)
                    .map_err(|e| KeylessError::Certificate(format!("subjectAltName: {e}")))?;
                for name in san.0 {
                    match name {
                        GeneralName::UniformResourceIdentifier(u) => subject = Some(u.to_string()),
                        GeneralName::Rfc822Name(e) => subject = Some(e.to_string()),
                        _ => {}
                    }
                }
            }
            OID_FULCIO_ISSUER_V2 => {
                let s = x509_cert::der::asn1::Utf8StringRef::from_der(value).map_err(|e| {
                    KeylessError::Certificate(format!("OIDC issuer extension: {e}"))
                })?;
                issuer = Some(s.as_str().to_string());
            }
            OID_FULCIO_ISSUER_V1 if issuer.is_none() => {
                issuer = Some(String::from_utf8_lossy(value).into_owned());
            }
            _ => {}
        }
    }
    Ok(CertIdentity {
        subject: subject
            .ok_or_else(|| KeylessError::Certificate("no URI or email subjectAltName".into()))?,
        issuer: issuer
            .ok_or_else(|| KeylessError::Certificate("no Fulcio OIDC issuer extension".into()))?,
    })
}

fn check_identity(id: &CertIdentity, policy: &IdentityPolicy) -> Result<(), KeylessError> {
    if !policy.identity.matches(&id.subject) {
        return Err(KeylessError::Identity(format!(
            "certificate identity '{}' does not match {}",
            id.subject,
            policy.identity.describe()
        )));
    }
    if !policy.issuer.matches(&id.issuer) {
        return Err(KeylessError::Identity(format!(
            "certificate OIDC issuer '{}' does not match {}",
            id.issuer,
            policy.issuer.describe()
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Transparency log

/// The fields of a Rekor entry that are verified.
struct LogEntry {
    log_index: i64,
    log_id: Vec<u8>,
    integrated_time: i64,
    body: Vec<u8>,
    body_b64: String,
    set: Option<Vec<u8>>,
    proof: Option<InclusionProof>,
}

struct InclusionProof {
    log_index: u64,
    tree_size: u64,
    root_hash: Vec<u8>,
    hashes: Vec<Vec<u8>>,
    checkpoint: String,
}

fn num(v: &serde_json::Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Reads a bundle `tlogEntries[]` element.
fn parse_bundle_entry(e: &serde_json::Value) -> Result<LogEntry, KeylessError> {
    let err = |m: &str| KeylessError::Tlog(format!("malformed log entry: {m}"));
    let body_b64 = e["canonicalizedBody"]
        .as_str()
        .ok_or_else(|| err("no canonicalizedBody"))?
        .to_string();
    let proof = match e.get("inclusionProof") {
        Some(p) if !p.is_null() => Some(InclusionProof {
            log_index: num(&p["logIndex"]).ok_or_else(|| err("inclusionProof.logIndex"))? as u64,
            tree_size: num(&p["treeSize"]).ok_or_else(|| err("inclusionProof.treeSize"))? as u64,
            root_hash: b64("rootHash", p["rootHash"].as_str().unwrap_or_default())
                .map_err(|m| err(&m))?,
            hashes: p["hashes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|h| b64("proof hash", h.as_str().unwrap_or_default()))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .map_err(|m| err(&m))?
                .unwrap_or_default(),
            checkpoint: p["checkpoint"]["envelope"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }),
        _ => None,
    };
    Ok(LogEntry {
        log_index: num(&e["logIndex"]).ok_or_else(|| err("logIndex"))?,
        log_id: b64("logId", e["logId"]["keyId"].as_str().unwrap_or_default())
            .map_err(|m| err(&m))?,
        integrated_time: num(&e["integratedTime"]).ok_or_else(|| err("integratedTime"))?,
        body: b64("canonicalizedBody", &body_b64).map_err(|m| err(&m))?,
        body_b64,
        set: match e["inclusionPromise"]["signedEntryTimestamp"].as_str() {
            Some(s) => Some(b64("signedEntryTimestamp", s).map_err(|m| err(&m))?),
            None => None,
        },
        proof,
    })
}

/// Verifies the entry's signatures by a trusted Rekor key: the signed entry timestamp, and
/// the inclusion proof up to a signed checkpoint when present. At least one is required.
fn verify_log_entry(root: &TrustedRoot, entry: &LogEntry) -> Result<(), KeylessError> {
    let key = root
        .log_key(&entry.log_id)
        .ok_or_else(|| KeylessError::Tlog("entry is from a log not in the trusted root".into()))?;
    if !key.valid_for.contains(entry.integrated_time) {
        return Err(KeylessError::Tlog(
            "log key was not valid at the entry's integration time".into(),
        ));
    }
    if entry.set.is_none() && entry.proof.is_none() {
        return Err(KeylessError::Tlog(
            "entry has neither a signed entry timestamp nor an inclusion proof".into(),
        ));
    }
    if let Some(set) = &entry.set {
        // Rekor signs the canonical JSON (sorted keys) of these four fields.
        let signed = format!(
            "{{\"body\":{},\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{}}}",
            serde_json::Value::String(entry.body_b64.clone()),
            entry.integrated_time,
            hex::encode(&entry.log_id),
            entry.log_index
        );
        verify_ecdsa(&key.spki, OID_ECDSA_SHA256, signed.as_bytes(), set)
            .map_err(|e| KeylessError::Tlog(format!("signed entry timestamp: {e}")))?;
    }
    if let Some(p) = &entry.proof {
        let mut leaf = vec![0u8];
        leaf.extend_from_slice(&entry.body);
        let leaf_hash = Sha256::digest(&leaf).to_vec();
        let computed = merkle_root_from_proof(p.log_index, p.tree_size, &leaf_hash, &p.hashes)
            .map_err(|e| KeylessError::Tlog(format!("inclusion proof: {e}")))?;
        if computed != p.root_hash {
            return Err(KeylessError::Tlog(
                "inclusion proof does not lead to the stated root hash".into(),
            ));
        }
        verify_checkpoint(key, &p.checkpoint, p.tree_size, &p.root_hash)?;
    }
    Ok(())
}

/// RFC 6962 / RFC 9162 inclusion proof verification.
fn merkle_root_from_proof(
    index: u64,
    size: u64,
    leaf: &[u8],
    proof: &[Vec<u8>],
) -> Result<Vec<u8>, String> {
    if index >= size {
        return Err(format!("index {index} beyond tree size {size}"));
    }
    let inner = 64 - (index ^ (size - 1)).leading_zeros() as usize;
    let border = (index >> inner).count_ones() as usize;
    if proof.len() != inner + border {
        return Err(format!(
            "expected {} hashes, got {}",
            inner + border,
            proof.len()
        ));
    }
    let node = |l: &[u8], r: &[u8]| {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l);
        h.update(r);
        h.finalize().to_vec()
    };
    let mut res = leaf.to_vec();
    for (i, h) in proof.iter().enumerate() {
        if i < inner && (index >> i) & 1 == 0 {
            res = node(&res, h);
        } else {
            res = node(h, &res);
        }
    }
    Ok(res)
}

/// Verifies a signed-note checkpoint ("origin\nsize\nroot\n\n— name base64(keyhint‖sig)").
fn verify_checkpoint(
    key: &LogKey,
    note: &str,
    size: u64,
    root_hash: &[u8],
) -> Result<(), KeylessError> {
    let err = |m: String| KeylessError::Tlog(format!("checkpoint: {m}"));
    let (text, sigs) = note
        .split_once("\n\n")
        .ok_or_else(|| err("not a signed note".into()))?;
    let text = format!("{text}\n");
    let mut lines = text.lines();
    let _origin = lines.next();
    let note_size: u64 = lines
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err("no tree size".into()))?;
    let note_root = lines
        .next()
        .map(|s| b64("root", s))
        .transpose()
        .map_err(err)?
        .ok_or_else(|| err("no root hash".into()))?;
    if note_size != size || note_root != root_hash {
        return Err(err("does not match the inclusion proof's tree".into()));
    }
    for line in sigs.lines() {
        let Some(rest) = line.strip_prefix("— ") else {
            continue;
        };
        let Some((_, sig_b64)) = rest.rsplit_once(' ') else {
            continue;
        };
        let Ok(raw) = STANDARD.decode(sig_b64) else {
            continue;
        };
        if raw.len() < 5 {
            continue;
        }
        if verify_ecdsa(&key.spki, OID_ECDSA_SHA256, text.as_bytes(), &raw[4..]).is_ok() {
            return Ok(());
        }
    }
    Err(err("no signature by the trusted log key".into()))
}

// ---------------------------------------------------------------------------------------
// Bundles

/// A verified keyless signature.
#[derive(Debug, Clone)]
pub struct Verified {
    /// cosign-style verify output for the signature.
    pub payload: serde_json::Value,
    pub identity: CertIdentity,
    pub integrated_time: i64,
    /// Times from verified RFC 3161 signed timestamps (the certificate was valid at each).
    pub timestamps: Vec<i64>,
    /// What was found but deliberately not used, for verbose output.
    pub notes: Vec<String>,
}

fn pem_cert_matches(verifier_b64: &str, leaf_der: &[u8]) -> bool {
    let Ok(pem_bytes) = STANDARD.decode(verifier_b64) else {
        return false;
    };
    let Ok(text) = String::from_utf8(pem_bytes) else {
        return false;
    };
    crate::pem::parse_first(&text).is_ok_and(|b| b.contents == leaf_der)
}

/// Adds the certificate identity to the printed payload, as cosign does for keyless.
fn with_identity(mut payload: serde_json::Value, id: &CertIdentity) -> serde_json::Value {
    if !payload["optional"].is_object() {
        payload["optional"] = serde_json::json!({});
    }
    payload["optional"]["Issuer"] = id.issuer.clone().into();
    payload["optional"]["Subject"] = id.subject.clone().into();
    payload
}

/// What a keyless DSSE bundle proves once its certificate, signature and log entry
/// check out: the signed statement bytes, who signed them, and when.
struct VerifiedEnvelope {
    payload: Vec<u8>,
    identity: CertIdentity,
    integrated_time: i64,
    timestamps: Vec<i64>,
    notes: Vec<String>,
}

/// Verifies a bundle's RFC 3161 timestamps over the envelope's signature against the
/// trusted TSAs; returns their times and notes. Like cosign, timestamps are not used
/// (and so not required to verify) when no TSA is trusted: the transparency log
/// entry, which is always required here, then dates the signature alone.
fn verify_timestamps(
    root: &TrustedRoot,
    vm: &bundle::VerificationMaterial,
    envelope: &dsse::Envelope,
) -> Result<(Vec<i64>, Vec<String>), KeylessError> {
    let tokens = crate::timestamp::bundle_timestamps(vm.timestamp_verification_data.as_ref())?;
    if tokens.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    if root.tsas.is_empty() {
        return Ok((
            Vec::new(),
            vec![format!(
                "the bundle carries {} RFC 3161 timestamp(s); no timestamp authority is trusted \
                 (trusted root timestampAuthorities or --timestamp-certificate-chain), so they \
                 were not used: the transparency log's integration time dates the signature",
                tokens.len()
            )],
        ));
    }
    let sigs: Vec<Vec<u8>> = envelope
        .signatures
        .iter()
        .filter_map(|s| STANDARD.decode(s.sig.trim()).ok())
        .collect();
    let mut times = Vec::new();
    // Every timestamp present must verify: a bad one is a forged or broken bundle.
    for token in &tokens {
        let mut last = KeylessError::Signature("envelope has no signature".into());
        let mut time = None;
        for sig in &sigs {
            match crate::timestamp::verify(token, sig, &root.tsas) {
                Ok(t) => {
                    time = Some(t);
                    break;
                }
                Err(e) => last = e.into(),
            }
        }
        times.push(time.ok_or(last)?);
    }
    Ok((times, Vec::new()))
}

/// The checks every keyless DSSE bundle needs, whatever its statement says.
fn verify_bundle_envelope(
    bytes: &[u8],
    root: &TrustedRoot,
    policy: &IdentityPolicy,
) -> Result<VerifiedEnvelope, KeylessError> {
    let bundle = Bundle::parse(bytes).map_err(KeylessError::Statement)?;
    let vm = &bundle.verification_material;
    let leaf_b64 = vm.leaf_certificate_b64().ok_or_else(|| {
        KeylessError::Certificate(
            "bundle has no signing certificate (key-based bundles need --key)".into(),
        )
    })?;
    let leaf_der = b64("certificate", leaf_b64).map_err(KeylessError::Certificate)?;
    let envelope = bundle::intoto_envelope(&bundle).map_err(KeylessError::Statement)?;
    let entry_json = vm
        .tlog_entries
        .first()
        .ok_or_else(|| KeylessError::Tlog("bundle has no transparency log entry".into()))?;
    let entry = parse_bundle_entry(entry_json)?;

    let (timestamps, notes) = verify_timestamps(root, vm, envelope)?;
    let mut times = vec![entry.integrated_time];
    times.extend(&timestamps);
    let leaf = verify_chain_at(root, &leaf_der, &times)?;
    let leaf_key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der(&leaf)?)
        .map_err(|_| KeylessError::Certificate("leaf key is not ECDSA P-256".into()))?;
    let payload = envelope
        .verify(&leaf_key)
        .map_err(|e| KeylessError::Signature(e.to_string()))?;
    verify_log_entry(root, &entry)?;

    // The log entry must record this very signature, payload and certificate.
    let body: serde_json::Value = serde_json::from_slice(&entry.body)
        .map_err(|e| KeylessError::Tlog(format!("entry body is not JSON: {e}")))?;
    let spec = &body["spec"];
    let payload_hash = hex::encode(Sha256::digest(&payload));
    match body["kind"].as_str() {
        Some("dsse") => {
            if spec["payloadHash"]["value"].as_str() != Some(payload_hash.as_str()) {
                return Err(KeylessError::Tlog(
                    "log entry records a different payload".into(),
                ));
            }
            let sigs = spec["signatures"].as_array().cloned().unwrap_or_default();
            let bound = sigs.iter().any(|s| {
                envelope
                    .signatures
                    .iter()
                    .any(|es| s["signature"].as_str() == Some(es.sig.as_str()))
                    && s["verifier"]
                        .as_str()
                        .is_some_and(|v| pem_cert_matches(v, &leaf_der))
            });
            if !bound {
                return Err(KeylessError::Tlog(
                    "log entry records a different signature or certificate".into(),
                ));
            }
        }
        other => {
            return Err(KeylessError::Tlog(format!(
                "unsupported log entry kind {other:?} for a DSSE bundle"
            )));
        }
    }

    let identity = cert_identity(&leaf)?;
    check_identity(&identity, policy)?;
    Ok(VerifiedEnvelope {
        payload,
        identity,
        integrated_time: entry.integrated_time,
        timestamps,
        notes,
    })
}

/// Verifies a keyless Sigstore bundle (v0.1–v0.3, DSSE) signing image `digest`.
pub fn verify_bundle(
    bytes: &[u8],
    digest: &str,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    required: &BTreeMap<String, String>,
) -> Result<Verified, KeylessError> {
    let v = verify_bundle_envelope(bytes, root, policy)?;
    let payload = bundle::check_signature_statement(&v.payload, digest, required)
        .map_err(KeylessError::Statement)?;
    Ok(Verified {
        payload: with_identity(payload, &v.identity),
        identity: v.identity,
        integrated_time: v.integrated_time,
        timestamps: v.timestamps,
        notes: v.notes,
    })
}

/// Verifies a keyless attestation bundle about image `digest` (cosign v3 `attest`),
/// optionally of one predicate type. The verified payload is the in-toto statement.
pub fn verify_attestation_bundle(
    bytes: &[u8],
    digest: &str,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    predicate_type: Option<&str>,
) -> Result<Verified, KeylessError> {
    let v = verify_bundle_envelope(bytes, root, policy)?;
    let statement = dsse::check_attestation(&v.payload, digest, predicate_type)
        .map_err(|e| KeylessError::Statement(e.to_string()))?;
    Ok(Verified {
        payload: serde_json::to_value(&statement)
            .map_err(|e| KeylessError::Statement(e.to_string()))?,
        identity: v.identity,
        integrated_time: v.integrated_time,
        timestamps: v.timestamps,
        notes: v.notes,
    })
}

/// Reads cosign's legacy Rekor bundle (`dev.sigstore.cosign/bundle` annotation).
fn parse_rekor_bundle(json: &str) -> Result<LogEntry, KeylessError> {
    let rekor: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| KeylessError::Tlog(format!("Rekor bundle is not JSON: {e}")))?;
    let p = &rekor["Payload"];
    let body_b64 = p["body"]
        .as_str()
        .ok_or_else(|| KeylessError::Tlog("Rekor bundle has no body".into()))?;
    Ok(LogEntry {
        log_index: num(&p["logIndex"]).ok_or_else(|| KeylessError::Tlog("no logIndex".into()))?,
        log_id: hex::decode(p["logID"].as_str().unwrap_or_default())
            .map_err(|_| KeylessError::Tlog("logID is not hex".into()))?,
        integrated_time: num(&p["integratedTime"])
            .ok_or_else(|| KeylessError::Tlog("no integratedTime".into()))?,
        body: b64("body", body_b64).map_err(KeylessError::Tlog)?,
        body_b64: body_b64.to_string(),
        set: Some(
            b64(
                "SignedEntryTimestamp",
                rekor["SignedEntryTimestamp"].as_str().unwrap_or_default(),
            )
            .map_err(KeylessError::Tlog)?,
        ),
        proof: None,
    })
}

/// Verifies the signed entry timestamp of a legacy Rekor bundle annotation against the
/// trusted root's log keys; returns the entry's integration time.
pub fn verify_rekor_bundle(root: &TrustedRoot, json: &str) -> Result<i64, KeylessError> {
    let entry = parse_rekor_bundle(json)?;
    verify_log_entry(root, &entry)?;
    Ok(entry.integrated_time)
}

/// Verifies a legacy keyless simple-signing signature: certificate (and chain) annotations
/// plus the Rekor bundle annotation (`dev.sigstore.cosign/bundle`).
pub fn verify_simple_signing(
    payload: &[u8],
    annotations: &BTreeMap<String, String>,
    digest: &str,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    required: &BTreeMap<String, String>,
) -> Result<Verified, KeylessError> {
    let cert_pem = annotations
        .get(image::CERTIFICATE_ANNOTATION)
        .ok_or_else(|| {
            KeylessError::Certificate("signature has no certificate (key-based: use --key)".into())
        })?;
    let leaf_der = crate::pem::parse_first(cert_pem)
        .map_err(|e| KeylessError::Certificate(e.to_string()))?
        .contents;
    let entry = parse_rekor_bundle(
        annotations
            .get(image::REKOR_BUNDLE_ANNOTATION)
            .ok_or_else(|| KeylessError::Tlog("signature has no Rekor bundle annotation".into()))?,
    )?;
    let leaf = verify_chain(root, &leaf_der, entry.integrated_time)?;
    let leaf_key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der(&leaf)?)
        .map_err(|_| KeylessError::Certificate("leaf key is not ECDSA P-256".into()))?;
    let sig = annotations
        .get(image::SIGNATURE_ANNOTATION)
        .ok_or_else(|| KeylessError::Signature("no signature annotation".into()))?;
    crate::payload::verify_b64(&leaf_key, payload, sig)
        .map_err(|e| KeylessError::Signature(e.to_string()))?;
    verify_log_entry(root, &entry)?;
    let body: serde_json::Value = serde_json::from_slice(&entry.body)
        .map_err(|e| KeylessError::Tlog(format!("entry body is not JSON: {e}")))?;
    let spec = &body["spec"];
    if spec["data"]["hash"]["value"].as_str() != Some(hex::encode(Sha256::digest(payload)).as_str())
        || spec["signature"]["content"].as_str() != Some(sig.as_str())
        || !spec["signature"]["publicKey"]["content"]
            .as_str()
            .is_some_and(|v| pem_cert_matches(v, &leaf_der))
    {
        return Err(KeylessError::Tlog(
            "log entry records a different payload, signature or certificate".into(),
        ));
    }
    let identity = cert_identity(&leaf)?;
    check_identity(&identity, policy)?;
    let doc = crate::payload::SimpleSigning::parse(payload)
        .map_err(|e| KeylessError::Statement(e.to_string()))?;
    doc.check(digest, required)
        .map_err(|e| KeylessError::Statement(e.to_string()))?;
    let payload =
        serde_json::from_slice(payload).map_err(|e| KeylessError::Statement(e.to_string()))?;
    Ok(Verified {
        payload: with_identity(payload, &identity),
        identity,
        integrated_time: entry.integrated_time,
        timestamps: Vec::new(),
        notes: Vec::new(),
    })
}

/// Verifies every keyless signature attached to `target` (both layouts, all formats).
pub async fn verify_image(
    reg: &Registry,
    target: &Target,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    required: &BTreeMap<String, String>,
) -> Result<Report, image::ImageError> {
    let found = image::discover(reg, target).await?;
    let mut report = Report::default();
    for f in found {
        let f = match f {
            Ok(f) => f,
            Err(e) => {
                report.rejected.push(("registry".into(), e));
                continue;
            }
        };
        if f.kind.is_attestation() {
            continue; // see verify_image_attestations
        }
        let r = match &f.kind {
            FoundKind::Bundle { bundle } => {
                verify_bundle(bundle, target.digest(), root, policy, required)
            }
            FoundKind::SimpleSigning {
                payload,
                annotations,
            } => verify_simple_signing(
                payload,
                annotations,
                target.digest(),
                root,
                policy,
                required,
            ),
            FoundKind::Dsse { .. } => continue,
        };
        match r {
            Ok(v) => {
                report.notes.extend(v.notes);
                report.verified.push(v.payload);
            }
            Err(e) => report.rejected.push((f.source, e.to_string())),
        }
    }
    Ok(report)
}

/// Verifies every keyless attestation attached to `target`, optionally of one predicate
/// type. Attestations in Sigstore bundles carry their certificate and log entry; legacy
/// DSSE layers (`.att`, DSSE referrers) are reported as not verifiable keyless here.
pub async fn verify_image_attestations(
    reg: &Registry,
    target: &Target,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    predicate_type: Option<&str>,
) -> Result<Report, image::ImageError> {
    let found = image::discover(reg, target).await?;
    let mut report = Report::default();
    for f in found {
        let f = match f {
            Ok(f) => f,
            Err(e) => {
                report.rejected.push(("registry".into(), e));
                continue;
            }
        };
        if !f.kind.is_attestation_for(predicate_type) {
            continue;
        }
        let r = match &f.kind {
            FoundKind::Bundle { bundle } => {
                verify_attestation_bundle(bundle, target.digest(), root, policy, predicate_type)
                    .map(|v| {
                        report.notes.extend(v.notes);
                        v.payload
                    })
                    .map_err(|e| e.to_string())
            }
            FoundKind::Dsse { .. } => Err(
                "DSSE attestation without a Sigstore bundle: keyless verification reads \
                 attestations from bundles only (verify this one with --key)"
                    .to_string(),
            ),
            FoundKind::SimpleSigning { .. } => continue,
        };
        match r {
            Ok(v) => report.verified.push(v),
            Err(e) => report.rejected.push((f.source, e)),
        }
    }
    Ok(report)
}

/// Parses an RFC 3339 time (`2021-03-07T03:20:29.000Z`, any offset) to Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        for t in [
            0i64,
            1_634_714_717,
            1_775_719_409,
            951_782_400, /* 2000-02-29 */
        ] {
            assert_eq!(parse_rfc3339(&image::rfc3339(t)), Some(t));
        }
        assert_eq!(
            parse_rfc3339("2021-03-07T03:20:29.000Z"),
            Some(1_615_087_229)
        );
        assert_eq!(parse_rfc3339("2021-13-07T03:20:29Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    fn fixture(name: &str) -> Vec<u8> {
        let shared = std::env::var("WHARF_SHARED")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared").to_string());
        std::fs::read(format!("{shared}/fixtures/cosign/{name}"))
            .expect("cosign fixture (set WHARF_SHARED)")
    }

    /// The real bundle's leaf certificate: valid only for ten minutes around signing.
    #[test]
    fn certificate_outside_its_validity_is_rejected() {
        let root = TrustedRoot::parse(&fixture("sigstore_public_good_trusted_root.json")).unwrap();
        let b: serde_json::Value =
            serde_json::from_slice(&fixture("sigstore_rs_bundle_v03_keyless_dsse.json")).unwrap();
        let leaf = STANDARD
            .decode(
                b["verificationMaterial"]["certificate"]["rawBytes"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let t = 1_775_719_409;
        verify_chain(&root, &leaf, t).unwrap();
        for late in [t + 3600, t - 3600] {
            let e = verify_chain(&root, &leaf, late).unwrap_err();
            assert!(
                matches!(e, KeylessError::Certificate(ref m) if m.contains("not valid at the signing time")),
                "{e}"
            );
        }
    }

    /// The claimed identity of the real bundle's certificate, read without a root.
    #[test]
    fn claimed_identity_reads_san_and_issuer() {
        let b: serde_json::Value =
            serde_json::from_slice(&fixture("sigstore_rs_bundle_v03_keyless_dsse.json")).unwrap();
        let leaf = STANDARD
            .decode(
                b["verificationMaterial"]["certificate"]["rawBytes"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let id = claimed_identity(&crate::pem::encode("CERTIFICATE", &leaf)).unwrap();
        assert!(
            id.subject.starts_with("https://github.com/"),
            "{}",
            id.subject
        );
        assert_eq!(id.issuer, "https://token.actions.githubusercontent.com");
        assert!(
            claimed_identity("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }

    /// A trusted root whose CA chains lack the issuing intermediate cannot vouch for the leaf.
    #[test]
    fn truncated_ca_chain_is_rejected() {
        let mut root: serde_json::Value =
            serde_json::from_slice(&fixture("sigstore_public_good_trusted_root.json")).unwrap();
        for ca in root["certificateAuthorities"].as_array_mut().unwrap() {
            let certs = ca["certChain"]["certificates"].as_array_mut().unwrap();
            if certs.len() > 1 {
                certs.remove(0);
            }
        }
        let root = TrustedRoot::parse(root.to_string().as_bytes()).unwrap();
        let b: serde_json::Value =
            serde_json::from_slice(&fixture("sigstore_rs_bundle_v03_keyless_dsse.json")).unwrap();
        let leaf = STANDARD
            .decode(
                b["verificationMaterial"]["certificate"]["rawBytes"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        assert!(matches!(
            verify_chain(&root, &leaf, 1_775_719_409),
            Err(KeylessError::Chain(_))
        ));
    }

    #[test]
    fn legacy_rekor_bundle_set_verifies_and_tampering_fails() {
        let root = TrustedRoot::parse(&fixture("sigstore_public_good_trusted_root.json")).unwrap();
        let text = String::from_utf8(fixture("sigstore_rs_rekor_bundle.json")).unwrap();
        assert_eq!(verify_rekor_bundle(&root, &text).unwrap(), 1_634_714_717);
        for (from, to) in [
            ("1634714717", "1634714718"),
            ("783607", "783608"),
            ("\"logID\": \"c0", "\"logID\": \"c1"),
        ] {
            let t = text.replacen(from, to, 1);
            assert_ne!(t, text, "fixture changed shape: {from}");
            assert!(
                verify_rekor_bundle(&root, &t).is_err(),
                "tampered {from} still verified"
            );
        }
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut t = v.clone();
        let body = v["Payload"]["body"].as_str().unwrap();
        t["Payload"]["body"] = body.replacen('e', "f", 1).into();
        assert!(verify_rekor_bundle(&root, &t.to_string()).is_err());
    }

    #[test]
    fn merkle_proof_small_tree() {
        // Tree of 3 leaves: root = H(1, H(1, l0, l1), l2).
        let leaf = |b: u8| Sha256::digest([0u8, b]).to_vec();
        let node = |l: &[u8], r: &[u8]| {
            let mut v = vec![1u8];
            v.extend_from_slice(l);
            v.extend_from_slice(r);
            Sha256::digest(&v).to_vec()
        };
        let (l0, l1, l2) = (leaf(0), leaf(1), leaf(2));
        let root = node(&node(&l0, &l1), &l2);
        assert_eq!(
            merkle_root_from_proof(0, 3, &l0, &[l1.clone(), l2.clone()]).unwrap(),
            root
        );
        assert_eq!(
            merkle_root_from_proof(2, 3, &l2, &[node(&l0, &l1)]).unwrap(),
            root
        );
        assert_ne!(
            merkle_root_from_proof(1, 3, &l1, &[l2.clone(), l0.clone()]).unwrap(),
            root
        );
        assert!(merkle_root_from_proof(3, 3, &l0, &[]).is_err());
    }
}
