//! Real OCI clients against the real binary: skopeo, the Docker engine,
//! buildah/podman and oras push and pull, and nothing they do can tell Wharf
//! from a mature registry.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Dockerd, Wharf, curl, oci_ref, require, run, test_images};

fn skopeo() -> Command {
    require("skopeo");
    let mut c = Command::new("skopeo");
    c.arg("--insecure-policy");
    c
}

/// Manifest digest of `tag` in an OCI layout, read from its index.json.
fn layout_digest(layout: &Path, tag: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("tag {tag} in {}", layout.display()))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every blob file of a layout, by name: what must survive a round trip byte for byte.
fn layout_blobs(layout: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn round_trip(image: &str, tag: &str, repo: &str, all: bool) {
    let w = Wharf::start();
    let src = test_images().join("oci").join(image);
    let dest = format!("docker://{}/{repo}:{tag}", w.host());
    let mut copy_in = skopeo();
    copy_in.args(["copy", "--dest-tls-verify=false"]);
    if all {
        copy_in.arg("--all");
    }
    run(copy_in.arg(oci_ref(image, tag)).arg(&dest));

    // The registry serves the very manifest the layout holds.
    let want = layout_digest(&src, tag);
    let raw = run(skopeo()
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(&dest));
    assert_eq!(common::sha256(raw.as_bytes()), want);
    let r = curl("HEAD", &w.url(&format!("/v2/{repo}/manifests/{tag}"))).send();
    assert_eq!(r.header("docker-content-digest"), Some(want.as_str()));

    // Out again: identical digests and identical bytes for every blob.
    let out = tempfile::tempdir().unwrap();
    let out_layout = out.path().join("layout");
    let mut copy_out = skopeo();
    copy_out.args(["copy", "--src-tls-verify=false"]);
    if all {
        copy_out.arg("--all");
    }
    run(copy_out
        .arg(&dest)
        .arg(format!("oci:{}:{tag}", out_layout.display())));
    assert_eq!(layout_digest(&out_layout, tag), want);
    let original = layout_blobs(&src);
    for (name, bytes) in layout_blobs(&out_layout) {
        let (_, orig) = original
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("unexpected blob {name}"));
        assert!(orig == &bytes, "blob {name} changed in the round trip");
    }

    let tags = run(skopeo()
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{}/{repo}", w.host())));
    let tags: serde_json::Value = serde_json::from_str(&tags).unwrap();
    assert_eq!(tags["Tags"], serde_json::json!([tag]));
}

#[test]
fn skopeo_round_trips_a_multi_layer_image() {
    round_trip("small", "v1", "library/small", false);
}

#[test]
fn skopeo_round_trips_a_multi_platform_index() {
    round_trip("multi", "v1", "project/team/multi", true);
}

#[test]
fn skopeo_copies_between_repositories_and_deletes() {
    let w = Wharf::start();
    let a = format!("docker://{}/library/a:v1", w.host());
    let b = format!("docker://{}/project/b:v1", w.host());
    run(skopeo()
        .args(["copy", "--dest-tls-verify=false"])
        .arg(oci_ref("small", "v1"))
        .arg(&a));
    // Registry-to-registry copy in the same registry mounts the layers.
    run(skopeo()
        .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
        .arg(&a)
        .arg(&b));
    assert!(
        w.log_text().contains("mount="),
        "skopeo should have mounted layers across repositories"
    );
    run(skopeo().args(["delete", "--tls-verify=false"]).arg(&b));
    let r = curl("GET", &w.url("/v2/project/b/manifests/v1")).send();
    assert_eq!(r.status, 404);
    run(skopeo().args(["inspect", "--tls-verify=false"]).arg(&a));
}

#[test]
fn docker_push_and_pull() {
    let w = Wharf::start();
    let d = Dockerd::start();
    let rootfs = tempfile::tempdir().unwrap();
    std::fs::write(rootfs.path().join("hello.txt"), "hello from docker\n").unwrap();
    let tar = rootfs.path().join("rootfs.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(rootfs.path())
        .arg("-cf")
        .arg(&tar)
        .arg("hello.txt"));
    let image = format!("{}/library/dockerized:v1", w.host());
    let id = run(d.docker().arg("import").arg(&tar).arg(&image))
        .trim()
        .to_string();
    let pushed = run(d.docker().args(["push", &image]));
    let digest = pushed
        .split_whitespace()
        .skip_while(|t| *t != "digest:")
        .nth(1)
        .expect("docker push prints the digest")
        .to_string();
    let r = curl("GET", &w.url("/v2/library/dockerized/manifests/v1")).send();
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.docker.distribution.manifest.v2+json")
    );

    run(d.docker().args(["rmi", &image]));
    run(d.docker().args(["pull", &image]));
    let pulled = run(d
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", &image]));
    assert_eq!(pulled.trim(), id);
    run(d
        .docker()
        .args(["pull", &format!("{}/library/dockerized@{digest}", w.host())]));
}

#[test]
fn buildah_and_podman_push_and_pull() {
    require("buildah");
    require("podman");
    let w = Wharf::start();
    let store = tempfile::tempdir().unwrap();
    let tool = |name: &str| {
        let mut c = Command::new(name);
        c.arg("--storage-driver")
            .arg("vfs")
            .arg("--root")
            .arg(store.path().join("root"))
            .arg("--runroot")
            .arg(store.path().join("run"));
        c
    };
    let file = store.path().join("greeting");
    std::fs::write(&file, "built by buildah\n").unwrap();
    let ctr = run(tool("buildah").args(["from", "scratch"]))
        .trim()
        .to_string();
    run(tool("buildah")
        .args(["copy", &ctr])
        .arg(&file)
        .arg("/greeting"));
    run(tool("buildah").args(["commit", &ctr, "localhost/built:v1"]));
    run(tool("buildah")
        .args(["push", "--tls-verify=false", "localhost/built:v1"])
        .arg(format!("docker://{}/library/built:v1", w.host())));
    run(tool("podman")
        .args(["push", "--tls-verify=false", "localhost/built:v1"])
        .arg(format!("docker://{}/project/podman/built:v2", w.host())));
    for (repo, tag) in [("library/built", "v1"), ("project/podman/built", "v2")] {
        let r = curl("GET", &w.url(&format!("/v2/{repo}/manifests/{tag}"))).send();
        assert_eq!(r.status, 200, "{repo}:{tag}");
    }
    run(tool("podman").args(["rmi", "localhost/built:v1"]));
    run(tool("podman")
        .args(["pull", "--tls-verify=false"])
        .arg(format!("{}/project/podman/built:v2", w.host())));
}

#[test]
fn oras_pushes_artifacts_with_a_subject_and_lists_referrers() {
    require("python3");
    let ok = Command::new("python3")
        .args(["-c", "import oras"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the oras Python package is missing: run scripts/test.sh"
    );
    let w = Wharf::start();
    let script = common::repo_root().join("tests/oras_referrers.py");
    let work = tempfile::tempdir().unwrap();
    let out = run(Command::new("python3")
        .arg(script)
        .arg(w.host())
        .current_dir(work.path()));
    assert!(out.contains("referrers ok"), "{out}");
}
