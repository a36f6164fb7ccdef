//! Helpers of the lifecycle tests (immutability, quotas, retention): a server with
//! access control, the management API as the administrator, skopeo pushes, and
//! what an OCI layout says about its own blobs (the independent source of sizes).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use super::{Curl, Wharf, curl, oci_ref, require, test_images};

pub const ADMIN_PW: &str = "Harbor12345";

pub fn start_auth(extra: &[&str]) -> Wharf {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--auth"];
    args.extend_from_slice(extra);
    Wharf::start_env(&dir.keep(), &args, &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)])
}

/// A management API request as `user` (`None`: the administrator).
pub fn api_as(w: &Wharf, method: &str, path: &str, user: Option<(&str, &str)>) -> Curl {
    let (u, p) = user.unwrap_or(("admin", ADMIN_PW));
    curl(method, &w.url(&format!("/api/v2.0{path}")))
        .header("Content-Type", "application/json")
        .arg("-u")
        .arg(&format!("{u}:{p}"))
}

pub fn api(w: &Wharf, method: &str, path: &str) -> Curl {
    api_as(w, method, path, None)
}

/// The id at the end of a 201's Location.
pub fn created_id(r: &super::Resp) -> i64 {
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.header("location")
        .and_then(|l| l.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .expect("Location ends in an id")
}

pub fn create_project(w: &Wharf, name: &str, body: Value) -> i64 {
    let mut body = body;
    body["project_name"] = json!(name);
    created_id(&api(w, "POST", "/projects").body(body.to_string()).send())
}

pub fn create_user(w: &Wharf, name: &str) {
    let r = api(w, "POST", "/users")
        .body(json!({"username": name, "password": "Passw0rd!", "email": format!("{name}@example.com")}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

pub fn add_member(w: &Wharf, project: &str, user: &str, role_id: i64) {
    let r = api(w, "POST", &format!("/projects/{project}/members"))
        .body(json!({"role_id": role_id, "member_user": {"username": user}}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

/// `skopeo copy` of a test image into the registry as the administrator.
pub fn skopeo_push(w: &Wharf, image: &str, tag: &str, dest: &str) -> Output {
    require("skopeo");
    Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            "--dest-creds",
        ])
        .arg(format!("admin:{ADMIN_PW}"))
        .arg(oci_ref(image, tag))
        .arg(format!("docker://{}/{dest}", w.host()))
        .output()
        .expect("running skopeo")
}

pub fn skopeo_push_ok(w: &Wharf, image: &str, tag: &str, dest: &str) {
    let out = skopeo_push(w, image, tag, dest);
    assert!(
        out.status.success(),
        "skopeo copy {image}:{tag} → {dest}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What an OCI layout holds for one tag: the manifest's digest and size, and
/// every blob it references (config, layers) with the size its descriptor gives.
pub struct LayoutImage {
    pub manifest: (String, u64),
    pub blobs: Vec<(String, u64)>,
}

impl LayoutImage {
    /// Every digest the image stores, with its size.
    pub fn all(&self) -> Vec<(String, u64)> {
        let mut v = vec![self.manifest.clone()];
        v.extend(self.blobs.iter().cloned());
        v
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

pub fn layout_image(image: &str, tag: &str) -> LayoutImage {
    let dir = test_images().join("oci").join(image);
    let index = read_json(&dir.join("index.json"));
    let desc = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("{image} has no tag {tag}"))
        .clone();
    let digest = desc["digest"].as_str().unwrap().to_string();
    let blob = |d: &str| dir.join("blobs").join(d.replace(':', "/"));
    let manifest = read_json(&blob(&digest));
    let mut blobs = vec![(
        manifest["config"]["digest"].as_str().unwrap().to_string(),
        manifest["config"]["size"].as_u64().unwrap(),
    )];
    for l in manifest["layers"].as_array().unwrap() {
        blobs.push((
            l["digest"].as_str().unwrap().to_string(),
            l["size"].as_u64().unwrap(),
        ));
        // The descriptor's size is the file's size: the layout agrees with itself.
        assert_eq!(
            std::fs::metadata(blob(l["digest"].as_str().unwrap()))
                .unwrap()
                .len(),
            l["size"].as_u64().unwrap()
        );
    }
    LayoutImage {
        manifest: (digest, desc["size"].as_u64().unwrap()),
        blobs,
    }
}

/// The usage rule computed from the images a project holds: each digest once.
pub fn distinct_bytes(images: &[&LayoutImage]) -> u64 {
    let mut seen = BTreeMap::new();
    for img in images {
        for (d, s) in img.all() {
            seen.insert(d, s);
        }
    }
    seen.values().sum()
}

/// `wharf ARGS` against the server, as the administrator.
pub fn wharf_cli(w: &Wharf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(args)
        .args([
            "--registry",
            &w.host(),
            "--insecure",
            "--username",
            "admin",
            "--password",
            ADMIN_PW,
        ])
        .output()
        .unwrap()
}

/// The same, which must succeed: its standard output.
pub fn wharf_ok(w: &Wharf, args: &[&str]) -> String {
    let out = wharf_cli(w, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A one-file image made with `docker import` (no base image needed), named `image`.
pub fn docker_image(d: &super::Dockerd, content: &str, image: &str) {
    let rootfs = tempfile::tempdir().unwrap();
    std::fs::write(rootfs.path().join("f"), content).unwrap();
    let tar = rootfs.path().join("r.tar");
    super::run(
        Command::new("tar")
            .arg("-C")
            .arg(rootfs.path())
            .arg("-cf")
            .arg(&tar)
            .arg("f"),
    );
    super::run(d.docker().arg("import").arg(&tar).arg(image));
}

/// `docker login` as the administrator.
pub fn docker_login(d: &super::Dockerd, w: &Wharf) {
    let out = super::run(
        d.docker()
            .args(["login", "-u", "admin", "-p", ADMIN_PW, &w.host()]),
    );
    assert!(out.contains("Login Succeeded"), "{out}");
}
