//! What the identity tests (LDAP, OIDC) share: the admin account, the API as a
//! given user, a one-image layout for skopeo, and the audit log once written.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Curl, Resp, Wharf, curl};

pub const ADMIN_PW: &str = "Harbor12345";
pub const ADMIN: (&str, &str) = ("admin", ADMIN_PW);

pub fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

pub fn api(w: &Wharf, method: &str, path: &str, user: (&str, &str)) -> Curl {
    curl(method, &w.url(&format!("/api/v2.0{path}")))
        .header("Content-Type", "application/json")
        .arg("-u")
        .arg(&format!("{}:{}", user.0, user.1))
}

/// A one-layer OCI layout on disk, for skopeo to copy from.
pub fn oci_layout(dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    let blob = |data: &[u8]| {
        let hex = hex::encode(Sha256::digest(data));
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("blobs/sha256").join(&hex), data).unwrap();
        (format!("sha256:{hex}"), data.len())
    };
    let (cd, cs) =
        blob(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#);
    let (ld, ls) = blob(&[0u8; 1024]); // an empty tar archive
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}]
    })
    .to_string();
    let (md, ms) = blob(manifest.as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]})
        .to_string(),
    )
    .unwrap();
    format!("oci:{}:v1", dir.display())
}

pub fn skopeo_copy(src: &str, dest: &str, creds: (&str, &str)) -> std::process::Output {
    let mut c = Command::new("skopeo");
    c.args([
        "--insecure-policy",
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
    ]);
    if src.starts_with("docker://") {
        c.arg("--src-creds").arg(format!("{}:{}", creds.0, creds.1));
    }
    if dest.starts_with("docker://") {
        c.arg("--dest-creds")
            .arg(format!("{}:{}", creds.0, creds.1));
    }
    c.arg(src).arg(dest).output().unwrap()
}

/// Wait for the batched audit writer, then the entries.
pub fn audit_until(w: &Wharf, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut last = Vec::new();
    for _ in 0..50 {
        last = api(w, "GET", "/audit-logs?page_size=100", ADMIN)
            .send()
            .json()
            .as_array()
            .unwrap()
            .clone();
        if pred(&last) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("audit entries never appeared: {last:#?}");
}
