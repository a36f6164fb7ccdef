//! Keyless content trust: which Fulcio certificate identities a project trusts
//! (`wharf_trusted_identities`), checked against the server's Sigstore trusted root
//! (`wharf serve --trusted-root`). An air-gapped site ships the root as a file; nothing
//! is fetched.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use wharf_signer::image::{CERTIFICATE_ANNOTATION, Found, FoundKind};
use wharf_signer::keyless::{CertIdentity, IdentityPolicy, TrustedRoot};

use crate::error::{RegistryError, Result};

/// Wharf's extension: keyless identities whose signatures satisfy content trust, as a
/// JSON array of `{"identity"|"identityRegexp": …, "issuer"|"issuerRegexp": …}` (the
/// fields of an ImagePolicy keyless signer).
pub const TRUSTED_IDENTITIES: &str = "wharf_trusted_identities";

/// The server's trusted root, loaded once at start.
#[derive(Clone)]
pub struct KeylessRoot {
    pub path: PathBuf,
    pub root: Arc<TrustedRoot>,
}

impl KeylessRoot {
    /// Reads and checks a Sigstore `trusted_root.json`.
    pub fn load(path: PathBuf) -> std::result::Result<KeylessRoot, String> {
        let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let root = TrustedRoot::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        // Policies name the root by path: make it independent of the working directory.
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        Ok(KeylessRoot {
            path,
            root: Arc::new(root),
        })
    }
}

/// One trusted identity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrustedIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_regexp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_regexp: Option<String>,
}

impl TrustedIdentity {
    fn policy(&self) -> std::result::Result<IdentityPolicy, String> {
        IdentityPolicy::new(
            self.identity.as_deref(),
            self.identity_regexp.as_deref(),
            self.issuer.as_deref(),
            self.issuer_regexp.as_deref(),
        )
        .map_err(|e| e.to_string())
    }

    pub fn describe(&self) -> String {
        let id = self
            .identity
            .clone()
            .unwrap_or_else(|| format!("/{}/", self.identity_regexp.as_deref().unwrap_or("")));
        let issuer = self
            .issuer
            .clone()
            .unwrap_or_else(|| format!("/{}/", self.issuer_regexp.as_deref().unwrap_or("")));
        format!("{id} from {issuer}")
    }
}

/// Parses and checks the setting: each entry needs exactly one of each pair, regexps
/// must compile. An empty value means none.
pub fn parse_identities(value: &str) -> Result<Vec<TrustedIdentity>> {
    let bad = |m: String| RegistryError::bad_request(format!("{TRUSTED_IDENTITIES}: {m}"));
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<TrustedIdentity> = serde_json::from_str(value).map_err(|e| {
        bad(format!(
            "must be a JSON array of {{\"identity\"|\"identityRegexp\", \"issuer\"|\"issuerRegexp\"}}: {e}"
        ))
    })?;
    for (i, t) in list.iter().enumerate() {
        for (what, exact, re) in [
            ("identity", &t.identity, &t.identity_regexp),
            ("issuer", &t.issuer, &t.issuer_regexp),
        ] {
            if exact.is_some() == re.is_some() {
                return Err(bad(format!(
                    "entry {}: give exactly one of {what} or {what}Regexp",
                    i + 1
                )));
            }
        }
        t.policy()
            .map_err(|e| bad(format!("entry {}: {e}", i + 1)))?;
    }
    Ok(list)
}

/// The identity a signature's certificate claims, for display (not verified).
pub fn claimed_identity(found: &Found) -> Option<CertIdentity> {
    match &found.kind {
        FoundKind::SimpleSigning { annotations, .. } => annotations
            .get(CERTIFICATE_ANNOTATION)
            .and_then(|c| wharf_signer::keyless::claimed_identity(c).ok()),
        FoundKind::Bundle { bundle } => wharf_signer::keyless::bundle_claimed_identity(bundle).ok(),
        FoundKind::Dsse { .. } => None,
    }
}

/// Verifies a keyless signature of `digest` against the root and any of the identities:
/// the identity that verified, or why none did.
pub fn verify_keyless(
    found: &Found,
    digest: &str,
    root: &TrustedRoot,
    identities: &[TrustedIdentity],
) -> std::result::Result<CertIdentity, String> {
    let none = BTreeMap::new();
    let mut reasons = Vec::new();
    for t in identities {
        let policy = t.policy()?;
        let r = match &found.kind {
            FoundKind::SimpleSigning {
                payload,
                annotations,
            } => {
                if !annotations.contains_key(CERTIFICATE_ANNOTATION) {
                    return Err("signed with a key, not a certificate".into());
                }
                wharf_signer::keyless::verify_simple_signing(
                    payload,
                    annotations,
                    digest,
                    root,
                    &policy,
                    &none,
                )
            }
            FoundKind::Bundle { bundle } if !found.kind.is_attestation() => {
                wharf_signer::keyless::verify_bundle(bundle, digest, root, &policy, &none)
            }
            _ => return Err("keyless attestations are not checked here".into()),
        };
        match r {
            Ok(v) => return Ok(v.identity),
            Err(e) => reasons.push(format!("{}: {e}", t.describe())),
        }
    }
    Err(reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_setting_is_checked() {
        let ok = r#"[{"identityRegexp": "^https://github.com/kubewarden/", "issuer": "https://token.actions.githubusercontent.com"}]"#;
        assert_eq!(parse_identities(ok).unwrap().len(), 1);
        assert!(parse_identities("").unwrap().is_empty());
        for bad in [
            "not json",
            r#"[{"identity": "a", "identityRegexp": "b", "issuer": "c"}]"#,
            r#"[{"identity": "a"}]"#,
            r#"[{"identityRegexp": "(", "issuer": "c"}]"#,
            r#"[{"identity": "a", "issuer": "c", "subject": "x"}]"#,
        ] {
            let e = parse_identities(bad).unwrap_err().to_string();
            assert!(e.contains(TRUSTED_IDENTITIES), "{bad}: {e}");
        }
    }
}
