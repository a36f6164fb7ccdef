//! Who a Fulcio certificate names (subjectAltName and the OIDC issuer extension), and
//! the policy of which names are acceptable.

use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use super::KeylessError;
use super::certificate::parse_cert;
use crate::bundle::Bundle;
use crate::decode::b64;

const OID_SAN: &str = "2.5.29.17";
const OID_FULCIO_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const OID_FULCIO_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";

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

    /// Checks a verified certificate's identity against the policy.
    pub(super) fn check(&self, id: &CertIdentity) -> Result<(), KeylessError> {
        if !self.identity.matches(&id.subject) {
            return Err(KeylessError::Identity(format!(
                "certificate identity '{}' does not match {}",
                id.subject,
                self.identity.describe()
            )));
        }
        if !self.issuer.matches(&id.issuer) {
            return Err(KeylessError::Identity(format!(
                "certificate OIDC issuer '{}' does not match {}",
                id.issuer,
                self.issuer.describe()
            )));
        }
        Ok(())
    }
}

/// What a verified signing certificate says about its holder.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CertIdentity {
    pub subject: String,
    pub issuer: String,
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
pub(super) fn cert_identity(cert: &Certificate) -> Result<CertIdentity, KeylessError> {
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
