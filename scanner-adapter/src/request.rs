//! The scan request Harbor sends (`ScanRequest` of the spec), checked before a job is
//! queued, so that a malformed request is refused with 422 and never half-runs.

use base64::Engine;
use serde::Deserialize;
use wharf_oci::RegistryOptions;

/// Artifact media types the adapter scans (the spec's `consumes_mime_types`).
pub const CONSUMES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// SBOM formats an `sbom` capability request may ask for.
pub const SBOM_MEDIA_TYPES: [&str; 2] = ["application/spdx+json", "application/vnd.cyclonedx+json"];

#[derive(Debug, Clone, Deserialize)]
pub struct ScanRequest {
    pub registry: Registry,
    pub artifact: Artifact,
    #[serde(default)]
    pub enabled_capabilities: Option<Vec<Capability>>,
}

#[derive(Clone, Deserialize)]
pub struct Registry {
    #[serde(default)]
    pub url: String,
    /// `Basic base64(user:password)`: Harbor's robot account for this scan.
    #[serde(default)]
    pub authorization: Option<String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("url", &self.url)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Artifact {
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Capability {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
}

/// Why a request is refused, and with which status.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// 422: a field is missing or invalid.
    #[error("{0}")]
    Invalid(String),
    /// 501: an artifact or capability the adapter cannot handle.
    #[error("{0}")]
    Unsupported(String),
}

/// A checked request: where to pull from and how. Its `Debug` leaves the password out.
#[derive(Clone)]
pub struct Target {
    /// `host[:port]/repository@digest`, as wharf-scanner reads a registry reference.
    pub reference: String,
    pub registry: RegistryOptions,
    pub artifact: Artifact,
    /// The request asked for an SBOM (and which formats), besides vulnerabilities.
    pub sbom: bool,
    pub vulnerability: bool,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("reference", &self.reference)
            .field("insecure", &self.registry.insecure)
            .field("username", &self.registry.username)
            .field("sbom", &self.sbom)
            .field("vulnerability", &self.vulnerability)
            .finish_non_exhaustive()
    }
}

impl ScanRequest {
    /// Checks the request; `ca_certs_pem` are the adapter's extra trust anchors.
    pub fn target(&self, ca_certs_pem: &[Vec<u8>]) -> Result<Target, RequestError> {
        let url = url::Url::parse(self.registry.url.trim()).map_err(|e| {
            RequestError::Invalid(format!("registry.url {:?}: {e}", self.registry.url))
        })?;
        let insecure = match url.scheme() {
            "http" => true,
            "https" => false,
            s => {
                return Err(RequestError::Invalid(format!(
                    "registry.url: scheme {s:?} (http or https)"
                )));
            }
        };
        let host = url
            .host_str()
            .ok_or_else(|| RequestError::Invalid("registry.url has no host".into()))?;
        let host = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let a = &self.artifact;
        if a.repository.is_empty() {
            return Err(RequestError::Invalid(
                "artifact.repository is required".into(),
            ));
        }
        if !valid_repository(&a.repository) {
            return Err(RequestError::Invalid(format!(
                "artifact.repository {:?} is not a repository name",
                a.repository
            )));
        }
        if !valid_digest(&a.digest) {
            return Err(RequestError::Invalid(format!(
                "artifact.digest {:?} is not a sha256 digest",
                a.digest
            )));
        }
        if let Some(m) = &a.mime_type
            && !CONSUMES.contains(&m.as_str())
        {
            return Err(RequestError::Unsupported(format!(
                "artifact.mime_type {m:?}: this scanner reads image manifests ({})",
                CONSUMES.join(", ")
            )));
        }
        let (username, password) = match self.registry.authorization.as_deref().map(str::trim) {
            None | Some("") => (None, None),
            Some(h) => {
                let (user, pass) = basic(h)?;
                (Some(user), Some(pass))
            }
        };
        let (mut vulnerability, mut sbom) = (true, false);
        if let Some(caps) = &self.enabled_capabilities {
            vulnerability = false;
            for c in caps {
                match c.kind.as_str() {
                    "vulnerability" => vulnerability = true,
                    "sbom" => {
                        sbom = true;
                        check_sbom_parameters(c.parameters.as_ref())?;
                    }
                    other => {
                        return Err(RequestError::Unsupported(format!(
                            "capability {other:?} (vulnerability or sbom)"
                        )));
                    }
                }
            }
        }
        Ok(Target {
            reference: format!("{host}/{}@{}", a.repository, a.digest),
            registry: RegistryOptions {
                insecure,
                username,
                password,
                ca_certs_pem: ca_certs_pem.to_vec(),
            },
            artifact: a.clone(),
            sbom,
            vulnerability,
        })
    }
}

/// `Basic base64(user:password)` → (user, password). Harbor sends its scan robot this
/// way; a bearer token cannot be handed to the image loader, so it is refused plainly.
fn basic(header: &str) -> Result<(String, String), RequestError> {
    let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(RequestError::Unsupported(format!(
            "registry.authorization scheme {scheme:?}: only Basic credentials are supported"
        )));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| {
            RequestError::Invalid("registry.authorization: Basic value is not base64".into())
        })?;
    let text = String::from_utf8(raw)
        .map_err(|_| RequestError::Invalid("registry.authorization: not UTF-8".into()))?;
    let (user, pass) = text.split_once(':').ok_or_else(|| {
        RequestError::Invalid("registry.authorization: expected user:password".into())
    })?;
    Ok((user.to_string(), pass.to_string()))
}

fn check_sbom_parameters(p: Option<&serde_json::Value>) -> Result<(), RequestError> {
    let Some(types) = p.and_then(|p| p.get("sbom_media_types")) else {
        return Ok(());
    };
    let types = types
        .as_array()
        .ok_or_else(|| RequestError::Invalid("sbom_media_types must be an array".into()))?;
    for t in types {
        let t = t.as_str().unwrap_or_default();
        if !SBOM_MEDIA_TYPES.contains(&t) {
            return Err(RequestError::Unsupported(format!(
                "sbom media type {t:?} ({})",
                SBOM_MEDIA_TYPES.join(", ")
            )));
        }
    }
    Ok(())
}

fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// The distribution spec's repository name grammar, without a regex: lower-case
/// components of `[a-z0-9]` joined by `.`, `_`, `__` or `-` runs, separated by `/`.
fn valid_repository(name: &str) -> bool {
    name.len() <= 255
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                && c.bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: serde_json::Value) -> ScanRequest {
        serde_json::from_value(v).unwrap()
    }

    const DIGEST: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

    #[test]
    fn a_harbor_request_becomes_a_registry_reference_with_credentials() {
        let t = req(serde_json::json!({
            "registry": {"url": "http://core.harbor.domain:8080", "authorization": "Basic cm9ib3QkYTpzM2NyZXQ="},
            "artifact": {"repository": "library/mongo", "digest": DIGEST, "tag": "3.14",
                         "mime_type": "application/vnd.docker.distribution.manifest.v2+json"}
        }))
        .target(&[])
        .unwrap();
        assert_eq!(
            t.reference,
            format!("core.harbor.domain:8080/library/mongo@{DIGEST}")
        );
        assert!(t.registry.insecure);
        assert_eq!(t.registry.username.as_deref(), Some("robot$a"));
        assert_eq!(t.registry.password.as_deref(), Some("s3cret"));
        assert!(t.vulnerability && !t.sbom);
    }

    #[test]
    fn bad_fields_are_refused_with_what_is_wrong() {
        let base = |registry: serde_json::Value, artifact: serde_json::Value| {
            req(serde_json::json!({"registry": registry, "artifact": artifact})).target(&[])
        };
        let ok_reg = serde_json::json!({"url": "https://r.example"});
        let cases = [
            (
                base(
                    serde_json::json!({"url": "ftp://x"}),
                    serde_json::json!({"repository": "a", "digest": DIGEST}),
                ),
                "scheme",
            ),
            (
                base(
                    serde_json::json!({"url": ""}),
                    serde_json::json!({"repository": "a", "digest": DIGEST}),
                ),
                "registry.url",
            ),
            (
                base(ok_reg.clone(), serde_json::json!({"digest": DIGEST})),
                "repository is required",
            ),
            (
                base(
                    ok_reg.clone(),
                    serde_json::json!({"repository": "A/../b", "digest": DIGEST}),
                ),
                "not a repository",
            ),
            (
                base(
                    ok_reg.clone(),
                    serde_json::json!({"repository": "a", "digest": "sha256:zz"}),
                ),
                "not a sha256",
            ),
            (
                base(
                    serde_json::json!({"url": "https://r", "authorization": "Basic !!"}),
                    serde_json::json!({"repository": "a", "digest": DIGEST}),
                ),
                "base64",
            ),
        ];
        for (got, want) in cases {
            let e = got.unwrap_err();
            assert!(
                matches!(e, RequestError::Invalid(_)) && e.to_string().contains(want),
                "{e} !~ {want}"
            );
        }
        let e = base(
            ok_reg.clone(),
            serde_json::json!({"repository": "a", "digest": DIGEST,
            "mime_type": "application/vnd.oci.image.index.v1+json"}),
        )
        .unwrap_err();
        assert!(matches!(e, RequestError::Unsupported(_)), "{e}");
        let e = base(
            serde_json::json!({"url": "https://r", "authorization": "Bearer abc"}),
            serde_json::json!({"repository": "a", "digest": DIGEST}),
        )
        .unwrap_err();
        assert!(
            matches!(e, RequestError::Unsupported(_)) && e.to_string().contains("Basic"),
            "{e}"
        );
    }

    #[test]
    fn capabilities_choose_the_reports() {
        let t = req(serde_json::json!({
            "registry": {"url": "https://r"},
            "artifact": {"repository": "a", "digest": DIGEST},
            "enabled_capabilities": [{"type": "sbom", "parameters": {"sbom_media_types": ["application/spdx+json"]}}]
        }))
        .target(&[])
        .unwrap();
        assert!(t.sbom && !t.vulnerability);
        let e = req(serde_json::json!({
            "registry": {"url": "https://r"},
            "artifact": {"repository": "a", "digest": DIGEST},
            "enabled_capabilities": [{"type": "sbom", "parameters": {"sbom_media_types": ["text/plain"]}}]
        }))
        .target(&[])
        .unwrap_err();
        assert!(matches!(e, RequestError::Unsupported(_)), "{e}");
    }

    #[test]
    fn credentials_never_show_in_debug_output() {
        let r = req(serde_json::json!({
            "registry": {"url": "https://r", "authorization": "Basic cm9ib3QkYTpzM2NyZXQ="},
            "artifact": {"repository": "a", "digest": DIGEST}
        }));
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("cm9ib3Qk") && shown.contains("redacted"),
            "{shown}"
        );
    }
}
