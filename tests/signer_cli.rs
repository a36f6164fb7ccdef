//! The signing verbs of the real `wharf` binary against a real `wharf serve`
//! (which has the OCI 1.1 referrers API): keys, sign/verify in both layouts, v3 bundles,
//! attestations, blobs, and the exit codes CI relies on (0 ok, 1 not verified, 2 error).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Wharf, curl, push_image};

fn wharf(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .current_dir(dir)
        .env("COSIGN_PASSWORD", "test-password")
        .env_remove("WHARF_USERNAME")
        .env_remove("WHARF_PASSWORD")
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn sign_and_verify_against_wharf_serve() {
    let w = Wharf::start();
    let (digest, _) = push_image(&w, "team/app", "v1", "cli");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = format!("{}/team/app:v1", w.host());

    ok(&wharf(d, &["key", "generate", "--output-key-prefix", "ci"]));
    ok(&wharf(
        d,
        &["key", "generate", "--output-key-prefix", "other"],
    ));
    let key_text = std::fs::read_to_string(d.join("ci.key")).unwrap();
    assert!(key_text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
    // Refuses to overwrite.
    assert_eq!(
        wharf(d, &["key", "generate", "--output-key-prefix", "ci"])
            .status
            .code(),
        Some(2)
    );

    // Nothing signed yet: exit 1.
    let o = wharf(d, &["verify", "--insecure", "--key", "ci.pub", &image]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    ok(&wharf(
        d,
        &[
            "sign",
            "--insecure",
            "--key",
            "ci.key",
            "-a",
            "build=42",
            &image,
        ],
    ));
    ok(&wharf(
        d,
        &[
            "sign",
            "--insecure",
            "--key",
            "ci.key",
            "--referrers",
            &image,
        ],
    ));
    ok(&wharf(
        d,
        &[
            "sign",
            "--insecure",
            "--key",
            "ci.key",
            "--bundle-format",
            "v3",
            &image,
        ],
    ));

    let out = ok(&wharf(
        d,
        &["verify", "--insecure", "--key", "ci.pub", &image],
    ));
    let verified: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(verified.len(), 3, "{out}");
    assert!(
        verified
            .iter()
            .all(|v| v["critical"]["image"]["docker-manifest-digest"] == digest)
    );

    // Wharf serves the referrers API: the v3 bundle and the referrer signature are listed
    // there, and no fallback tag was needed.
    let hexd = digest.strip_prefix("sha256:").unwrap();
    let r = curl("GET", &w.url(&format!("/v2/team/app/referrers/{digest}"))).send();
    assert_eq!(r.status, 200);
    let types: Vec<String> = r.json()["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["artifactType"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        types.contains(&"application/vnd.dev.sigstore.bundle.v0.3+json".to_string()),
        "{types:?}"
    );
    assert!(
        types.contains(&"application/vnd.dev.cosign.artifact.sig.v1+json".to_string()),
        "{types:?}"
    );
    let r = curl(
        "GET",
        &w.url(&format!("/v2/team/app/manifests/sha256-{hexd}")),
    )
    .send();
    assert_eq!(
        r.status, 404,
        "no referrers fallback tag on a registry with the API"
    );

    // Required annotation: only the tag-layout signature carries build=42.
    let out = ok(&wharf(
        d,
        &[
            "verify",
            "--insecure",
            "--key",
            "ci.pub",
            "-a",
            "build=42",
            &image,
        ],
    ));
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&out)
            .unwrap()
            .len(),
        1
    );
    let o = wharf(
        d,
        &[
            "verify",
            "--insecure",
            "--key",
            "ci.pub",
            "-a",
            "build=43",
            &image,
        ],
    );
    assert_eq!(o.status.code(), Some(1));

    // Another key: exit 1 with reasons.
    let o = wharf(d, &["verify", "--insecure", "--key", "other.pub", &image]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("signature does not match"));

    // Runtime errors are exit 2: missing image, wrong password, malformed key.
    let o = wharf(
        d,
        &[
            "verify",
            "--insecure",
            "--key",
            "ci.pub",
            &format!("{}/team/app:nope", w.host()),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .current_dir(d)
        .env("COSIGN_PASSWORD", "wrong")
        .args(["sign", "--insecure", "--key", "ci.key", &image])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrong password"));
    std::fs::write(
        d.join("bad.pub"),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    assert_eq!(
        wharf(d, &["verify", "--insecure", "--key", "bad.pub", &image])
            .status
            .code(),
        Some(2)
    );

    // Attestations.
    std::fs::write(
        d.join("prov.json"),
        r#"{"buildType":"https://example.com/ci"}"#,
    )
    .unwrap();
    ok(&wharf(
        d,
        &[
            "attest",
            "--insecure",
            "--key",
            "ci.key",
            "--predicate",
            "prov.json",
            "--type",
            "slsaprovenance",
            &image,
        ],
    ));
    let out = ok(&wharf(
        d,
        &[
            "verify-attestation",
            "--insecure",
            "--key",
            "ci.pub",
            "--type",
            "slsaprovenance",
            &image,
        ],
    ));
    let st: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(st["predicate"]["buildType"], "https://example.com/ci");
    let o = wharf(
        d,
        &[
            "verify-attestation",
            "--insecure",
            "--key",
            "ci.pub",
            "--type",
            "spdxjson",
            &image,
        ],
    );
    assert_eq!(o.status.code(), Some(1));

    // cosign v3 attestations: a bundle referrer annotated with the predicate type.
    std::fs::write(
        d.join("bom.json"),
        r#"{"bomFormat":"CycloneDX","specVersion":"1.6"}"#,
    )
    .unwrap();
    let attest_v3 = |extra: &[&str]| {
        let mut a = vec![
            "attest",
            "--insecure",
            "--key",
            "ci.key",
            "--predicate",
            "bom.json",
            "--type",
            "cyclonedx",
            "--bundle-format",
            "v3",
        ];
        a.extend_from_slice(extra);
        a.push(&image);
        wharf(d, &a)
    };
    // v3 bundles are always referrers: asking for the tag layout too is a usage error.
    assert_eq!(attest_v3(&["--referrers"]).status.code(), Some(2));
    ok(&attest_v3(&[]));
    let r = curl(
        "GET",
        &w.url(&format!(
            "/v2/team/app/referrers/{digest}?artifactType=application/vnd.dev.sigstore.bundle.v0.3%2Bjson"
        )),
    )
    .send();
    assert_eq!(r.status, 200);
    let listed = r.json()["manifests"].as_array().unwrap().clone();
    assert_eq!(
        listed.len(),
        2,
        "signature and attestation bundles: {listed:?}"
    );
    let att_desc = listed
        .iter()
        .find(|m| {
            m["annotations"]["dev.sigstore.bundle.predicateType"] == "https://cyclonedx.org/bom"
        })
        .expect("attestation bundle annotated with its predicate type");
    let m = curl(
        "GET",
        &w.url(&format!(
            "/v2/team/app/manifests/{}",
            att_desc["digest"].as_str().unwrap()
        )),
    )
    .header("Accept", "application/vnd.oci.image.manifest.v1+json")
    .send()
    .json();
    assert_eq!(
        m["annotations"]["dev.sigstore.bundle.content"],
        "dsse-envelope"
    );
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    let out = ok(&wharf(
        d,
        &[
            "verify-attestation",
            "--insecure",
            "--key",
            "ci.pub",
            "--type",
            "cyclonedx",
            &image,
        ],
    ));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["predicateType"], "https://cyclonedx.org/bom");
    assert_eq!(lines[0]["predicate"]["bomFormat"], "CycloneDX");
    // Without --type: all three places, the `.att` tag, a DSSE referrer and the bundle.
    std::fs::write(
        d.join("vuln.json"),
        r#"{"scanner":{"uri":"pkg:github/x/y"}}"#,
    )
    .unwrap();
    ok(&wharf(
        d,
        &[
            "attest",
            "--insecure",
            "--key",
            "ci.key",
            "--predicate",
            "vuln.json",
            "--type",
            "vuln",
            "--referrers",
            &image,
        ],
    ));
    let out = ok(&wharf(
        d,
        &[
            "verify-attestation",
            "--insecure",
            "--key",
            "ci.pub",
            &image,
        ],
    ));
    let types: std::collections::BTreeSet<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["predicateType"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        [
            "https://cosign.sigstore.dev/attestation/vuln/v1",
            "https://cyclonedx.org/bom",
            "https://slsa.dev/provenance/v0.2"
        ],
        "{out}"
    );
    let o = wharf(
        d,
        &[
            "verify-attestation",
            "--insecure",
            "--key",
            "other.pub",
            "--type",
            "cyclonedx",
            &image,
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    // The attestation bundle is no signature: still the same three signatures verify.
    let out = ok(&wharf(
        d,
        &["verify", "--insecure", "--key", "ci.pub", &image],
    ));
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&out)
            .unwrap()
            .len(),
        3,
        "{out}"
    );
}

#[test]
fn sign_blob_and_verify_blob() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&wharf(d, &["key", "generate"]));
    std::fs::write(d.join("artifact.tar"), b"release bytes").unwrap();
    let sig = ok(&wharf(
        d,
        &[
            "sign-blob",
            "--key",
            "cosign.key",
            "--output-signature",
            "artifact.sig",
            "artifact.tar",
        ],
    ));
    assert_eq!(
        sig.trim(),
        std::fs::read_to_string(d.join("artifact.sig"))
            .unwrap()
            .trim()
    );
    ok(&wharf(
        d,
        &[
            "verify-blob",
            "--key",
            "cosign.pub",
            "--signature",
            "artifact.sig",
            "artifact.tar",
        ],
    ));
    std::fs::write(d.join("artifact.tar"), b"release bytes!").unwrap();
    let o = wharf(
        d,
        &[
            "verify-blob",
            "--key",
            "cosign.pub",
            "--signature",
            "artifact.sig",
            "artifact.tar",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn keyless_bundle_file_offline() {
    let f = common::shared_dir().join("fixtures/cosign");
    let bundle = f.join("sigstore_rs_bundle_v03_keyless_dsse.json");
    let root = f.join("sigstore_public_good_trusted_root.json");
    let digest = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
    let id = "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
    let dir = tempfile::tempdir().unwrap();
    let args = |identity: &str| -> Vec<String> {
        [
            "verify",
            "--bundle",
            bundle.to_str().unwrap(),
            "--digest",
            digest,
            "--trusted-root",
            root.to_str().unwrap(),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a = args(id);
    let o = wharf(
        dir.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let out = ok(&o);
    assert!(out.contains(digest));
    // The bundle's RFC 3161 timestamp is not used without a trusted TSA, and that is said.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("Note: the bundle carries 1 RFC 3161 timestamp"),
        "{stderr}"
    );
    let a = args("https://github.com/someone/else");
    let o = wharf(
        dir.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(1));

    // verify-attestation takes the same keyless options; the bundle's statement is
    // printed (its predicate type is cosign's signature one).
    let mut a = args(id);
    a[0] = "verify-attestation".into();
    a.extend([
        "--type".into(),
        "https://sigstore.dev/cosign/sign/v1".into(),
    ]);
    let out = ok(&wharf(
        dir.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let st: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(st["predicateType"], "https://sigstore.dev/cosign/sign/v1");
    assert_eq!(
        st["subject"][0]["digest"]["sha256"],
        digest.strip_prefix("sha256:").unwrap()
    );
    let mut a = args(id);
    a[0] = "verify-attestation".into();
    a.extend(["--type".into(), "slsaprovenance".into()]);
    let o = wharf(
        dir.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("predicateType"));
    let mut a = args("https://github.com/someone/else");
    a[0] = "verify-attestation".into();
    let o = wharf(
        dir.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("identity"));
}

/// HTTPS registry with a private CA: `--registry-cacert` makes the signer trust it.
#[test]
fn sign_and_verify_over_https_with_registry_cacert() {
    common::require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sh = |script: &str| {
        common::run(Command::new("sh").arg("-c").arg(script).current_dir(d));
    };
    sh(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=wharf-test-ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
        -keyout ca.key -out ca.pem 2>/dev/null",
    );
    sh(
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 -keyout tls.key -out tls.csr 2>/dev/null",
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh(
        "openssl x509 -req -in tls.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out tls.pem 2>/dev/null",
    );
    let (cert, key) = (d.join("tls.pem"), d.join("tls.key"));
    let w = Wharf::start_in(
        d,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let base = format!("https://127.0.0.1:{}", w.port);
    let tls = |method: &str, path: &str| {
        curl(method, &format!("{base}{path}"))
            .arg("--cacert")
            .arg(d.join("ca.pem").to_str().unwrap())
    };
    // Wait for the TLS listener, then push a tiny image.
    for _ in 0..50 {
        if tls("GET", "/v2/").send().status == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let push = |data: &[u8]| {
        let digest = common::sha256(data);
        let r = tls(
            "POST",
            &format!("/v2/secure/app/blobs/uploads/?digest={digest}"),
        )
        .header("Content-Type", "application/octet-stream")
        .body(data.to_vec())
        .send();
        assert_eq!(r.status, 201);
        digest
    };
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let (cd, ld) = (push(config), push(b"tls layer"));
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": 9}]
    });
    let r = tls("PUT", "/v2/secure/app/manifests/v1")
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string().into_bytes())
        .send();
    assert_eq!(r.status, 201);

    let image = format!("127.0.0.1:{}/secure/app:v1", w.port);
    ok(&wharf(d, &["key", "generate"]));
    // Without the CA the registry's certificate is not trusted: a runtime error.
    assert_eq!(
        wharf(d, &["sign", "--key", "cosign.key", &image])
            .status
            .code(),
        Some(2)
    );
    ok(&wharf(
        d,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--registry-cacert",
            "ca.pem",
            &image,
        ],
    ));
    let out = ok(&wharf(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--registry-cacert",
            "ca.pem",
            &image,
        ],
    ));
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&out)
            .unwrap()
            .len(),
        1
    );
}

/// With `wharf serve --auth` (Docker token auth): signing needs credentials, given by
/// flags or `WHARF_USERNAME`/`WHARF_PASSWORD`; anonymous verification of a public project works.
#[test]
fn sign_with_credentials_against_wharf_with_auth() {
    common::require("skopeo");
    common::require("umoci");
    let w = Wharf::start_with(&["--auth", "--admin-password", "s3cret-Admin"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::run(
        Command::new("umoci")
            .args(["init", "--layout", "layout"])
            .current_dir(d),
    );
    common::run(
        Command::new("umoci")
            .args(["new", "--image", "layout:v1"])
            .current_dir(d),
    );
    let image = format!("{}/library/signed:v1", w.host());
    common::run(
        Command::new("skopeo")
            .args([
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                "admin:s3cret-Admin",
            ])
            .arg(format!("oci:{}:v1", d.join("layout").display()))
            .arg(format!("docker://{image}")),
    );
    ok(&wharf(d, &["key", "generate"]));

    // Anonymous signing is refused by the registry: a runtime error, exit 2.
    assert_eq!(
        wharf(d, &["sign", "--insecure", "--key", "cosign.key", &image])
            .status
            .code(),
        Some(2)
    );
    ok(&wharf(
        d,
        &[
            "sign",
            "--insecure",
            "--key",
            "cosign.key",
            "--username",
            "admin",
            "--password",
            "s3cret-Admin",
            &image,
        ],
    ));
    let o = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .current_dir(d)
        .env("COSIGN_PASSWORD", "test-password")
        .env("WHARF_USERNAME", "admin")
        .env("WHARF_PASSWORD", "s3cret-Admin")
        .args([
            "sign",
            "--insecure",
            "--key",
            "cosign.key",
            "--referrers",
            &image,
        ])
        .output()
        .unwrap();
    ok(&o);
    // library is public: anyone may verify.
    let out = ok(&wharf(
        d,
        &["verify", "--insecure", "--key", "cosign.pub", &image],
    ));
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&out)
            .unwrap()
            .len(),
        2
    );
}

/// PEM trust material instead of trusted_root.json, as cosign offers it: the real bundle
/// verifies with the public-good Fulcio CAs, Rekor key and CT log key taken out of the
/// fixture trusted root into PEM files.
#[test]
fn keyless_bundle_with_pem_roots() {
    use base64::Engine;
    let f = common::shared_dir().join("fixtures/cosign");
    let bundle = f.join("sigstore_rs_bundle_v03_keyless_dsse.json");
    let root: serde_json::Value = serde_json::from_slice(
        &std::fs::read(f.join("sigstore_public_good_trusted_root.json")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pem = |label: &str, b64: &serde_json::Value| {
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        wharf_signer::pem::encode(label, &der)
    };
    let chain = &root["certificateAuthorities"][1]["certChain"]["certificates"];
    let (inter, ca) = (
        pem("CERTIFICATE", &chain[0]["rawBytes"]),
        pem("CERTIFICATE", &chain[1]["rawBytes"]),
    );
    std::fs::write(d.join("root.pem"), &ca).unwrap();
    std::fs::write(d.join("inter.pem"), &inter).unwrap();
    std::fs::write(d.join("chain.pem"), format!("{inter}{ca}")).unwrap();
    let old = &root["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"];
    std::fs::write(d.join("old-root.pem"), pem("CERTIFICATE", old)).unwrap();
    std::fs::write(
        d.join("rekor.pem"),
        pem("PUBLIC KEY", &root["tlogs"][0]["publicKey"]["rawBytes"]),
    )
    .unwrap();
    std::fs::write(
        d.join("ct.pem"),
        pem("PUBLIC KEY", &root["ctlogs"][1]["publicKey"]["rawBytes"]),
    )
    .unwrap();

    let run = |trust: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
        c.current_dir(d)
            .env_remove("SIGSTORE_REKOR_PUBLIC_KEY")
            .env_remove("SIGSTORE_CT_LOG_PUBLIC_KEY_FILE")
            .args(["verify", "--bundle"])
            .arg(&bundle)
            .args([
                "--digest",
                "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172",
                "--certificate-identity-regexp",
                "^https://github.com/kubewarden/",
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
            ])
            .args(trust);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let full = [
        "--ca-roots",
        "root.pem",
        "--ca-intermediates",
        "inter.pem",
        "--rekor-public-key",
        "rekor.pem",
        "--ctlog-public-key",
        "ct.pem",
    ];
    ok(&run(&full, &[]));
    ok(&run(
        &[
            "--certificate-chain",
            "chain.pem",
            "--rekor-public-key",
            "rekor.pem",
            "--ctlog-public-key",
            "ct.pem",
        ],
        &[],
    ));
    // The keys from cosign's environment variables instead of flags.
    ok(&run(
        &["--certificate-chain", "chain.pem"],
        &[
            ("SIGSTORE_REKOR_PUBLIC_KEY", "rekor.pem"),
            ("SIGSTORE_CT_LOG_PUBLIC_KEY_FILE", "ct.pem"),
        ],
    ));
    // A root that did not issue the certificate's CA: not verified (exit 1).
    let o = run(
        &[
            "--ca-roots",
            "old-root.pem",
            "--rekor-public-key",
            "rekor.pem",
            "--ctlog-public-key",
            "ct.pem",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("certificate chain"), "{}", stderr(&o));
    // The intermediate does not chain to that root: refused up front (exit 2).
    let o = run(
        &[
            "--ca-roots",
            "old-root.pem",
            "--ca-intermediates",
            "inter.pem",
            "--rekor-public-key",
            "rekor.pem",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not chain"), "{}", stderr(&o));
    // No Rekor key: a usage error that says what is missing.
    let o = run(
        &[
            "--certificate-chain",
            "chain.pem",
            "--ctlog-public-key",
            "ct.pem",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--rekor-public-key"), "{}", stderr(&o));
    // No CT log key: the SCT cannot be verified; --insecure-ignore-sct says so loudly.
    let o = run(
        &[
            "--certificate-chain",
            "chain.pem",
            "--rekor-public-key",
            "rekor.pem",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Certificate Transparency"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &[
            "--certificate-chain",
            "chain.pem",
            "--rekor-public-key",
            "rekor.pem",
            "--insecure-ignore-sct",
        ],
        &[],
    );
    ok(&o);
    assert!(
        stderr(&o).contains("WARNING: --insecure-ignore-sct"),
        "{}",
        stderr(&o)
    );
    // Trusted root and PEM roots together are a usage error.
    let tr = f.join("sigstore_public_good_trusted_root.json");
    let o = run(
        &[
            "--trusted-root",
            tr.to_str().unwrap(),
            "--ca-roots",
            "root.pem",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
}

/// `--timestamp-certificate-chain`: a bundle's RFC 3161 timestamp by a trusted TSA (made
/// here with `openssl ts`, under faketime at the fixture's signing time) is verified, and
/// its time must lie inside the certificate's validity.
#[test]
fn keyless_bundle_with_trusted_timestamp_authority() {
    use base64::Engine;
    common::require("openssl");
    common::require("faketime");
    let b64 = base64::engine::general_purpose::STANDARD;
    let f = common::shared_dir().join("fixtures/cosign");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sh = |at: &str, script: &str| {
        common::run(
            Command::new("faketime")
                .arg(at)
                .args(["sh", "-c", script])
                .env("TZ", "UTC")
                .current_dir(d),
        );
    };
    std::fs::write(
        d.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
    )
    .unwrap();
    std::fs::write(
        d.join("ts.cnf"),
        "[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = serial\ncrypto_device = builtin\nsigner_digest = sha256\n\
         default_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\nordering = no\ntsa_name = no\n\
         ess_cert_id_chain = no\ness_cert_id_alg = sha256\n",
    )
    .unwrap();
    std::fs::write(d.join("serial"), "01\n").unwrap();
    sh(
        "2026-04-09 07:20:00",
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=tsa-root \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
         -keyout ca.key -out ca.pem 2>/dev/null && \
         openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=tsa -keyout tsa.key -out tsa.csr 2>/dev/null && \
         openssl x509 -req -in tsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile ext.cnf -out tsa.pem 2>/dev/null && \
         cat tsa.pem ca.pem > tsa-chain.pem",
    );
    let fixture: serde_json::Value = serde_json::from_slice(
        &std::fs::read(f.join("sigstore_rs_bundle_v03_keyless_dsse.json")).unwrap(),
    )
    .unwrap();
    let sig = b64
        .decode(
            fixture["dsseEnvelope"]["signatures"][0]["sig"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    std::fs::write(d.join("sig.bin"), &sig).unwrap();
    // A bundle whose timestamp was made by our TSA at `at`.
    let stamped = |at: &str, out: &str| {
        sh(
            at,
            "openssl ts -query -data sig.bin -sha256 -cert -no_nonce -out q.tsq 2>/dev/null && \
             openssl ts -reply -queryfile q.tsq -inkey tsa.key -signer tsa.pem -config ts.cnf -out r.tsr 2>/dev/null",
        );
        let mut b = fixture.clone();
        b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"] =
            b64.encode(std::fs::read(d.join("r.tsr")).unwrap()).into();
        std::fs::write(d.join(out), b.to_string()).unwrap();
    };
    stamped("2026-04-09 07:23:35", "in-window.json");
    stamped("2026-04-20 12:00:00", "late.json");
    let verify = |bundle: &Path, tsa: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
        c.current_dir(d)
            .args(["verify", "--bundle"])
            .arg(bundle)
            .args([
                "--digest",
                "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172",
                "--certificate-identity-regexp",
                "^https://github.com/kubewarden/",
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
                "--trusted-root",
            ])
            .arg(f.join("sigstore_public_good_trusted_root.json"));
        if tsa {
            c.args(["--timestamp-certificate-chain", "tsa-chain.pem"]);
        }
        c.output().unwrap()
    };
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let o = verify(&d.join("in-window.json"), true);
    ok(&o);
    assert!(
        !stderr(&o).contains("Note:"),
        "the timestamp was used: {}",
        stderr(&o)
    );
    // Stamped after the ten-minute certificate expired: not verified.
    let o = verify(&d.join("late.json"), true);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not valid at"), "{}", stderr(&o));
    // Sigstore's own timestamp in the fixture is not by the TSA we trust.
    let o = verify(&f.join("sigstore_rs_bundle_v03_keyless_dsse.json"), true);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("signed timestamp"), "{}", stderr(&o));
    // Without a trusted TSA the late timestamp is not used (and said so): the log entry dates it.
    let o = verify(&d.join("late.json"), false);
    ok(&o);
    assert!(
        stderr(&o).contains("Note: the bundle carries 1 RFC 3161 timestamp"),
        "{}",
        stderr(&o)
    );
    // The chain file must end in a self-signed root.
    std::fs::copy(d.join("tsa.pem"), d.join("tsa-chain.pem")).unwrap();
    let o = verify(&d.join("in-window.json"), true);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
