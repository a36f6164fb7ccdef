//! Descriptor, image manifest and image index as clients write and read them.
//!
//! Field order is go-containerregistry's, so what we write looks like what cosign
//! writes. Unknown fields are ignored on read: registries and tools add their own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::media_types::{OCI_INDEX, OCI_MANIFEST};

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub size: u64,
    pub digest: String,
    /// The content itself, base64 (image-spec "Embedded content"; the empty config).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub platform: Option<Platform>,
    #[serde(
        rename = "artifactType",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor with only the three required fields.
    pub fn new(media_type: impl Into<String>, size: u64, digest: impl Into<String>) -> Self {
        Descriptor {
            media_type: media_type.into(),
            size,
            digest: digest.into(),
            data: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }
}

/// The platform of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
}

impl Platform {
    /// True when `want` (`os/arch` or `os/arch/variant`) names this platform.
    pub fn matches(&self, want: &str) -> bool {
        let base = format!("{}/{}", self.os, self.architecture);
        want == base
            || self
                .variant
                .as_deref()
                .is_some_and(|v| want == format!("{base}/{v}"))
    }
}

/// An image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subject: Option<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// An OCI image manifest of `config` and `layers`.
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Manifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.into()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: None,
        }
    }

    /// The JSON bytes to push.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain structs serialise")
    }

    /// What the referrers API reports as this manifest's type: `artifactType`, else the
    /// config's media type (image-spec "Guidelines for Artifact Usage").
    pub fn effective_artifact_type(&self) -> &str {
        self.artifact_type
            .as_deref()
            .unwrap_or(&self.config.media_type)
    }
}

/// An image index (multi-platform images, and the referrers tag schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

impl Index {
    /// An empty OCI image index.
    pub fn empty() -> Self {
        Index {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            manifests: Vec::new(),
        }
    }

    /// The JSON bytes to push.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain structs serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A referrer manifest as ORAS/cosign write it (image-spec "artifact usage" example,
    /// digests from the spec's examples): every field read, unknown ones ignored.
    #[test]
    fn reads_a_referrer_manifest() {
        let body = r#"{
          "schemaVersion": 2,
          "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "artifactType": "application/vnd.example+type",
          "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "size": 2,
            "data": "e30="
          },
          "layers": [{
            "mediaType": "application/vnd.example+type",
            "digest": "sha256:e258d248fda94c63753607f7c4494ee0fcbe92f1a76bfdac795c9d84101eb317",
            "size": 1234,
            "annotations": {"org.opencontainers.image.title": "sbom.json"}
          }],
          "subject": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
            "size": 1234
          },
          "annotations": {"org.opencontainers.image.created": "2023-01-02T03:04:05Z"},
          "somethingNew": true
        }"#;
        let m: Manifest = serde_json::from_str(body).unwrap();
        assert_eq!(m.effective_artifact_type(), "application/vnd.example+type");
        assert_eq!(m.config.data.as_deref(), Some("e30="));
        assert_eq!(m.config.size, 2);
        assert_eq!(
            m.layers[0].annotations.as_ref().unwrap()["org.opencontainers.image.title"],
            "sbom.json"
        );
        assert_eq!(
            m.subject.as_ref().unwrap().digest,
            "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
        );
    }

    /// Written as go-containerregistry orders fields, optional ones left out.
    #[test]
    fn writes_fields_in_ggcr_order_without_empty_options() {
        let config = Descriptor::new("application/vnd.oci.image.config.v1+json", 2, "sha256:aa");
        let mut layer = Descriptor::new("application/vnd.dsse.envelope.v1+json", 10, "sha256:bb");
        layer.annotations = Some([("predicateType".to_string(), "x".to_string())].into());
        let m = Manifest::new(config, vec![layer]);
        assert_eq!(
            String::from_utf8(m.to_bytes()).unwrap(),
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:aa"},"layers":[{"mediaType":"application/vnd.dsse.envelope.v1+json","size":10,"digest":"sha256:bb","annotations":{"predicateType":"x"}}]}"#
        );
        // Without `artifactType`, the config media type is the artifact type.
        assert_eq!(
            m.effective_artifact_type(),
            "application/vnd.oci.image.config.v1+json"
        );
    }

    /// A Docker manifest list with platforms (schema from Docker's manifest v2.2 docs).
    #[test]
    fn reads_a_docker_list_with_platforms() {
        let body = r#"{"schemaVersion":2,
          "mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
          "manifests":[
            {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":7143,
             "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
             "platform":{"architecture":"ppc64le","os":"linux"}},
            {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":7682,
             "digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
             "platform":{"architecture":"arm","os":"linux","variant":"v7","features":["sse4"]}}]}"#;
        let i: Index = serde_json::from_str(body).unwrap();
        assert_eq!(i.manifests.len(), 2);
        let p = i.manifests[1].platform.as_ref().unwrap();
        assert!(p.matches("linux/arm/v7") && p.matches("linux/arm"));
        assert!(!p.matches("linux/arm/v6"));
        assert!(
            !i.manifests[0]
                .platform
                .as_ref()
                .unwrap()
                .matches("linux/amd64")
        );
    }
}
