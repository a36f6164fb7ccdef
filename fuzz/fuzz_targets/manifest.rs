//! Manifest and index bodies as a client pushes them: the registry's parse-and-check
//! (`wharf_registry::manifest::parse`, under every Content-Type it may be sent with) and
//! wharf-oci's typed `Manifest`/`Index`/`Platform` as every client reads them. A body the
//! registry accepts must also be readable by the client types, and re-serialising a client
//! `Manifest` must give JSON that parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_oci::digest::Digest;
use wharf_oci::media_types::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use wharf_oci::{Index, Manifest, Platform};
use wharf_registry::manifest::{Kind, parse};

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some(OCI_MANIFEST),
    Some(OCI_INDEX),
    Some(DOCKER_MANIFEST),
    Some(DOCKER_LIST),
    Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
    Some("application/json; charset=utf-8"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let ct = CONTENT_TYPES[sel as usize % CONTENT_TYPES.len()];
    if let Ok(m) = parse(body, ct) {
        assert!(!m.media_type.is_empty());
        match m.kind {
            Kind::Image => assert!(m.children.is_empty()),
            Kind::Index => assert!(m.blobs.is_empty()),
        }
        for d in m.blobs.iter().chain(&m.children) {
            let text = d.digest.to_string();
            assert!(text.parse::<Digest>().is_ok_and(|x| x == d.digest));
        }
    }
    if let Ok(m) = serde_json::from_slice::<Manifest>(body) {
        let again = m.to_bytes();
        serde_json::from_slice::<Manifest>(&again).expect("a serialised manifest parses");
        let _ = m.effective_artifact_type();
        for d in m.layers.iter().chain(std::iter::once(&m.config)) {
            let _ = d.digest.parse::<Digest>();
        }
    }
    if let Ok(i) = serde_json::from_slice::<Index>(body) {
        let again = i.to_bytes();
        serde_json::from_slice::<Index>(&again).expect("a serialised index parses");
        for d in &i.manifests {
            if let Some(p) = &d.platform {
                let _ = p.matches("linux/amd64");
                let _ = p.matches("linux/arm64/v8");
            }
        }
    }
    if let Ok(p) = serde_json::from_slice::<Platform>(body) {
        if let Ok(want) = std::str::from_utf8(body) {
            let _ = p.matches(want);
        }
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = text.parse::<Digest>();
        let _ = wharf_oci::parse_reference(text);
    }
});
