//! `wharf sbom` and registry input against Wharf itself (which has the referrers API):
//! the real binary, images pushed with skopeo.

mod common;

use std::process::Command;

use common::Wharf;

fn wharf(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn push(w: &Wharf, image: &str, tag: &str, repo: &str) -> String {
    common::require("skopeo");
    let dest = format!("{}/{repo}:{tag}", w.host());
    let out = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(common::oci_ref(image, tag))
        .arg(format!("docker://{dest}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dest
}

#[test]
fn scan_from_wharf_equals_scan_of_layout() {
    let w = Wharf::start();
    let remote = push(&w, "pyapp", "v1", "test/pyapp");
    let packages = |img: &str| {
        let out = wharf(
            &[
                "scan",
                "--list-packages",
                "--format",
                "json",
                "--insecure",
                img,
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // Target names the artifact; everything else must match.
        let results: Vec<_> = v["Results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["Class"].clone(), r["Type"].clone(), r["Packages"].clone()))
            .collect();
        results
    };
    assert_eq!(packages(&remote), packages(&common::oci_ref("pyapp", "v1")));
}

#[test]
fn sbom_attach_uses_wharf_referrers_api_and_fetch_returns_it() {
    let w = Wharf::start();
    let remote = push(&w, "pyapp", "v1", "test/pyapp");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("sbom.cdx.json");
    let env = [("SOURCE_DATE_EPOCH", "1700000000")];
    let out = wharf(
        &[
            "sbom",
            "--insecure",
            &remote,
            "--format",
            "cyclonedx-json",
            "--attach",
            "-o",
            file.to_str().unwrap(),
        ],
        &env,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("referrers API"), "{stderr}");
    let doc = std::fs::read(&file).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    let digest = v["metadata"]["component"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(v["metadata"]["timestamp"] == "2023-11-14T22:13:20Z");

    // The registry lists it under the image, with its artifactType.
    let out = Command::new("curl")
        .args(["-sf", &w.url(&format!("/v2/test/pyapp/referrers/{digest}"))])
        .output()
        .unwrap();
    assert!(out.status.success());
    let idx: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        idx["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["artifactType"] == "application/vnd.cyclonedx+json"),
        "{idx}"
    );

    // Same image, same SOURCE_DATE_EPOCH: byte-identical; fetch returns what was attached.
    let again = wharf(
        &["sbom", "--insecure", &remote, "--format", "cyclonedx-json"],
        &env,
    );
    assert_eq!(again.stdout, doc);
    let fetched = wharf(&["sbom", "fetch", "--insecure", &remote], &[]);
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    assert_eq!(fetched.stdout, doc);

    // attach of an existing file (SPDX this time), then fetch by format.
    let spdx = tmp.path().join("sbom.spdx.json");
    assert!(
        wharf(
            &["sbom", &remote, "--insecure", "-o", spdx.to_str().unwrap()],
            &env
        )
        .status
        .success()
    );
    let out = wharf(
        &[
            "sbom",
            "attach",
            "--insecure",
            &remote,
            "--sbom",
            spdx.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fetched = wharf(
        &[
            "sbom",
            "fetch",
            "--insecure",
            "--format",
            "spdx-json",
            &remote,
        ],
        &[],
    );
    assert_eq!(fetched.stdout, std::fs::read(&spdx).unwrap());

    // A file that is not an SBOM is refused with a clear message.
    std::fs::write(tmp.path().join("x.json"), b"{\"a\":1}").unwrap();
    let out = wharf(
        &[
            "sbom",
            "attach",
            "--insecure",
            &remote,
            "--sbom",
            tmp.path().join("x.json").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither SPDX"));
}
