//! Manifest bodies as the registry needs to see them: which of the four
//! accepted kinds it is, what it references (blobs must exist before it is
//! accepted), its `subject` and what the referrers API reports for it.
//!
//! Parsing is deliberately narrower than a full image-spec model: the registry
//! stores and serves the client's bytes untouched and only checks what it must.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::digest::Digest;

pub use wharf_oci::media_types::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
const DOCKER_SCHEMA1: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// Manifests larger than this are refused, as distribution and zot do.
pub use wharf_oci::media_types::MAX_MANIFEST_SIZE;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: Option<String>,
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub urls: Option<Vec<String>>,
}

impl Descriptor {
    /// Foreign / non-distributable layers with URLs live elsewhere; the
    /// registry never holds them, so their existence is not required.
    fn is_foreign(&self) -> bool {
        let foreign_type = self
            .media_type
            .as_deref()
            .is_some_and(|m| m.contains(".foreign.") || m.contains(".nondistributable."));
        foreign_type && self.urls.as_ref().is_some_and(|u| !u.is_empty())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Image,
    Index,
}

/// What the registry learned from a manifest body.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub media_type: String,
    pub kind: Kind,
    /// Config and layers that must exist in the repository.
    pub blobs: Vec<Descriptor>,
    /// Manifests an index refers to; they must exist in the repository.
    pub children: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    /// What the referrers API reports: `artifactType`, else the config's media type.
    pub artifact_type: Option<String>,
    pub annotations: Option<Map<String, Value>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("schemaVersion must be 2")]
    SchemaVersion,
    #[error("Docker schema 1 manifests are not supported; push schema 2 or OCI")]
    Schema1,
    #[error("manifest mediaType {body:?} does not match Content-Type {header:?}")]
    MediaTypeMismatch { body: String, header: String },
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("an image manifest needs a config descriptor")]
    NoConfig,
    #[error("an index needs a manifests array")]
    NoManifests,
    #[error("an image manifest must not have a manifests array, nor an index config or layers")]
    Mixed,
}

/// Whether a manifest is a container image a scanner can read: an image
/// manifest whose artifact type (config media type) is an image config.
pub fn is_container_image(media_type: &str, artifact_type: Option<&str>) -> bool {
    kind_of(media_type) == Some(Kind::Image)
        && artifact_type.is_none_or(|t| {
            t == "application/vnd.oci.image.config.v1+json"
                || t == "application/vnd.docker.container.image.v1+json"
        })
}

fn kind_of(media_type: &str) -> Option<Kind> {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => Some(Kind::Image),
        OCI_INDEX | DOCKER_LIST => Some(Kind::Index),
        _ => None,
    }
}

/// Parse and check a manifest pushed with `content_type` (the request's header, parameters stripped).
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest, ManifestError> {
    let raw: Raw = serde_json::from_slice(body).map_err(|e| ManifestError::Json(e.to_string()))?;
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty());
    let body_type = raw.media_type.as_deref();

    if header.is_some_and(|h| DOCKER_SCHEMA1.contains(&h)) || raw.schema_version == Some(1) {
        return Err(ManifestError::Schema1);
    }
    let media_type = match (header.filter(|h| kind_of(h).is_some()), body_type) {
        (Some(h), Some(b)) if h != b => {
            return Err(ManifestError::MediaTypeMismatch {
                body: b.into(),
                header: h.into(),
            });
        }
        (Some(h), _) => h.to_string(),
        (None, Some(b)) if kind_of(b).is_some() => b.to_string(),
        (None, Some(b)) => return Err(ManifestError::UnsupportedMediaType(b.into())),
        // No usable type anywhere: OCI allows omitting mediaType, so infer from shape.
        (None, None) => match (&raw.manifests, &raw.config) {
            (Some(_), None) => OCI_INDEX.to_string(),
            (None, Some(_)) => OCI_MANIFEST.to_string(),
            _ => {
                let shown = header.unwrap_or("(none)").to_string();
                return Err(ManifestError::UnsupportedMediaType(shown));
            }
        },
    };
    if raw.schema_version != Some(2) {
        return Err(ManifestError::SchemaVersion);
    }
    let kind = kind_of(&media_type).expect("media type was checked above");
    match kind {
        Kind::Image => {
            if raw.manifests.is_some() {
                return Err(ManifestError::Mixed);
            }
            let config = raw.config.ok_or(ManifestError::NoConfig)?;
            let artifact_type = raw
                .artifact_type
                .clone()
                .or_else(|| config.media_type.clone());
            let mut blobs = vec![config];
            blobs.extend(
                raw.layers
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|d| !d.is_foreign()),
            );
            Ok(Manifest {
                media_type,
                kind,
                blobs,
                children: Vec::new(),
                subject: raw.subject,
                artifact_type,
                annotations: raw.annotations,
            })
        }
        Kind::Index => {
            if raw.config.is_some() || raw.layers.is_some() {
                return Err(ManifestError::Mixed);
            }
            let children = raw.manifests.ok_or(ManifestError::NoManifests)?;
            Ok(Manifest {
                media_type,
                kind,
                blobs: Vec::new(),
                children,
                subject: raw.subject,
                artifact_type: raw.artifact_type,
                annotations: raw.annotations,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    fn image(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":3}}]{extra}}}"#,
            d(1),
            d(2)
        )
    }

    #[test]
    fn image_manifest_lists_config_and_layers() {
        let m = parse(image("").as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(m.kind, Kind::Image);
        assert_eq!(m.blobs.len(), 2);
        assert_eq!(
            m.artifact_type.as_deref(),
            Some("application/vnd.oci.image.config.v1+json")
        );
    }

    #[test]
    fn artifact_type_and_subject_are_read() {
        let extra = format!(
            r#","artifactType":"application/example","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":9}}"#,
            d(3)
        );
        let m = parse(image(&extra).as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(m.artifact_type.as_deref(), Some("application/example"));
        assert_eq!(m.subject.unwrap().digest.to_string(), d(3));
    }

    #[test]
    fn index_lists_children() {
        let body = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":5}}]}}"#,
            d(4)
        );
        let m = parse(body.as_bytes(), Some(OCI_INDEX)).unwrap();
        assert_eq!(m.kind, Kind::Index);
        assert_eq!(m.children.len(), 1);
        // shape inference without any type
        assert_eq!(parse(body.as_bytes(), None).unwrap().media_type, OCI_INDEX);
    }

    #[test]
    fn mismatches_and_garbage_are_refused() {
        assert!(matches!(
            parse(b"{not json", Some(OCI_MANIFEST)),
            Err(ManifestError::Json(_))
        ));
        assert!(matches!(
            parse(image("").as_bytes(), Some(DOCKER_MANIFEST)),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        assert_eq!(
            parse(br#"{"schemaVersion":1,"name":"x"}"#, None).unwrap_err(),
            ManifestError::Schema1
        );
        let v3 = image("").replace("\"schemaVersion\":2", "\"schemaVersion\":3");
        assert_eq!(
            parse(v3.as_bytes(), Some(OCI_MANIFEST)).unwrap_err(),
            ManifestError::SchemaVersion
        );
        let bad_digest = image("").replace(&d(2), "sha256:../../etc");
        assert!(matches!(
            parse(bad_digest.as_bytes(), Some(OCI_MANIFEST)),
            Err(ManifestError::Json(_))
        ));
        let no_config =
            format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","layers":[]}}"#);
        assert_eq!(
            parse(no_config.as_bytes(), None).unwrap_err(),
            ManifestError::NoConfig
        );
    }

    #[test]
    fn foreign_layers_with_urls_are_not_required() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{}","size":3,"urls":["https://example.com/layer"]}}]}}"#,
            d(1),
            d(2)
        );
        let m = parse(body.as_bytes(), Some(DOCKER_MANIFEST)).unwrap();
        assert_eq!(m.blobs.len(), 1);
    }
}
