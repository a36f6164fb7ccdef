//! Replication (issue 14), end to end with the real binary: registry endpoints
//! (stored encrypted, never shown, pinged with the real token flow of another
//! Wharf and the Basic authentication of Distribution 2.8).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Wharf, curl, stdout_ok, wharf_in};
use serde_json::json;

const ADMIN_PW: &str = "Harbor12345";
/// The remotes' passwords as `dev` stores them: never on dev's disk or in its log.
const AIRGAP_PW: &str = "airgap-Secret-42";
const REMOTE_PW: &str = "mirror-Secret-17";

fn cli(dir: &Path, dev: &Wharf, args: &[&str]) -> Output {
    let host = dev.host();
    let env = [
        ("WHARF_REGISTRY", host.as_str()),
        ("WHARF_USERNAME", "admin"),
        ("WHARF_PASSWORD", ADMIN_PW),
    ];
    let mut all = args.to_vec();
    all.push("--insecure");
    wharf_in(dir, &env, &all)
}

fn failed_with(o: &Output, text: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "should have failed: {stderr}");
    assert!(stderr.contains(text), "expected {text:?} in: {stderr}");
}

/// Runs `cmd` with `input` on stdin; its stdout, or a panic with both streams.
fn with_stdin(cmd: &mut Command, input: &str) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    stdout_ok(&child.wait_with_output().unwrap())
}

use common::Distribution as Reference;

/// Registry endpoints: created through the CLI, the secret sealed with a key the
/// server generated (0600), masked by the API, absent from the database file and
/// the log; ping follows the remote's real authentication (the Docker token flow of
/// another Wharf, htpasswd Basic of Distribution) and names a refused login; the
/// key survives a restart; PUT with the mask keeps the secret.
#[test]
fn registry_endpoints_keep_their_secrets_and_ping_real_registries() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let airgap = Wharf::start_with(&["--admin-password", AIRGAP_PW]);
    std::fs::create_dir_all(d.join("dev")).unwrap();
    let mut dev = Wharf::start_in(&d.join("dev"), &["--admin-password", ADMIN_PW]);

    // The key file was generated on first start, readable by the server's user only.
    let key_file = dev.data_dir.join("secret.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // airgap's admin as the remote account: a wrong password first, then the right one.
    let airgap_url = format!("http://{}", airgap.host());
    let wrong = cli(
        d,
        &dev,
        &[
            "registry",
            "ping",
            "--url",
            &airgap_url,
            "--access-key",
            "admin",
            "--access-secret",
            "nope",
        ],
    );
    failed_with(&wrong, "ping of registry");
    let closed = format!("http://127.0.0.1:{}", common::free_port());
    failed_with(
        &cli(d, &dev, &["registry", "ping", "--url", &closed]),
        "ping of registry",
    );

    // The real secret, on stdin as scripts pass it.
    let mut add = Command::new(env!("CARGO_BIN_EXE_wharf"));
    add.current_dir(d)
        .envs([
            ("WHARF_REGISTRY", dev.host()),
            ("WHARF_USERNAME", "admin".into()),
            ("WHARF_PASSWORD", ADMIN_PW.into()),
        ])
        .args([
            "registry",
            "add",
            "airgap",
            "--url",
            &airgap_url,
            "--access-key",
            "admin",
            "--access-secret-stdin",
            "--insecure",
        ]);
    let out = with_stdin(&mut add, &format!("{AIRGAP_PW}\n"));
    assert!(out.contains("added registry 1 (airgap)"), "{out}");
    stdout_ok(&cli(d, &dev, &["registry", "ping", "1"]));

    // Listed with the secret masked, in the CLI and in Harbor's JSON.
    let list = stdout_ok(&cli(d, &dev, &["registry", "list", "--output", "json"]));
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["name"], "airgap");
    assert_eq!(list[0]["type"], "harbor");
    assert_eq!(list[0]["credential"]["access_key"], "admin");
    assert_eq!(list[0]["credential"]["access_secret"], "*****");
    let auth = format!("admin:{ADMIN_PW}");
    let one = curl("GET", &dev.url("/api/v2.0/registries/1"))
        .arg("-u")
        .arg(&auth)
        .send();
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["credential"]["access_secret"], "*****");
    assert!(!String::from_utf8_lossy(&one.body).contains(ADMIN_PW));

    // Distribution 2.8 with htpasswd: Basic auth, checked by ping.
    let reference = Reference::start(&d.join("reference"), &format!("mirror:{REMOTE_PW}"));
    let ref_url = format!("http://127.0.0.1:{}", reference.port);
    let body = json!({"name": "distribution", "url": ref_url, "type": "docker-registry",
        "credential": {"type": "basic", "access_key": "mirror", "access_secret": REMOTE_PW}});
    let created = curl("POST", &dev.url("/api/v2.0/registries"))
        .arg("-u")
        .arg(&auth)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send();
    assert_eq!(created.status, 201);
    assert_eq!(created.header("location"), Some("/api/v2.0/registries/2"));
    stdout_ok(&cli(d, &dev, &["registry", "ping", "2"]));
    let bad_basic = curl("POST", &dev.url("/api/v2.0/registries/ping"))
        .arg("-u")
        .arg(&auth)
        .header("Content-Type", "application/json")
        .body(json!({"id": 2, "access_key": "mirror", "access_secret": "wrong"}).to_string())
        .send();
    assert_eq!(
        bad_basic.status,
        400,
        "{}",
        String::from_utf8_lossy(&bad_basic.body)
    );

    // The same name again: 409.
    let again = curl("POST", &dev.url("/api/v2.0/registries"))
        .arg("-u")
        .arg(&auth)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send();
    assert_eq!(again.status, 409);

    // A PUT sending the mask back keeps the stored secret.
    let put = curl("PUT", &dev.url("/api/v2.0/registries/2"))
        .arg("-u")
        .arg(&auth)
        .header("Content-Type", "application/json")
        .body(json!({"description": "the reference", "access_secret": "*****"}).to_string())
        .send();
    assert_eq!(put.status, 200);

    // After a restart the same key opens the stored credentials.
    dev.terminate();
    let dev = Wharf::start_in(&d.join("dev"), &["--admin-password", ADMIN_PW]);
    stdout_ok(&cli(d, &dev, &["registry", "ping", "1"]));
    stdout_ok(&cli(d, &dev, &["registry", "ping", "2"]));

    // The secrets are nowhere in clear on dev's side.
    for file in std::fs::read_dir(&dev.data_dir).unwrap() {
        let path = file.unwrap().path();
        if path.is_file() {
            let data = std::fs::read(&path).unwrap();
            for secret in [REMOTE_PW, AIRGAP_PW] {
                assert!(
                    !data.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} in {}",
                    path.display()
                );
            }
        }
    }
    let log = dev.log_text();
    assert!(!log.contains(REMOTE_PW) && !log.contains(AIRGAP_PW));

    // A non-administrator may not see endpoints.
    let anonymous = curl("GET", &dev.url("/api/v2.0/registries")).send();
    assert_eq!(anonymous.status, 401);

    let removed = stdout_ok(&cli(d, &dev, &["registry", "remove", "2"]));
    assert!(removed.contains("removed registry 2"));
    assert_eq!(
        curl("GET", &dev.url("/api/v2.0/registries/2"))
            .arg("-u")
            .arg(&auth)
            .send()
            .status,
        404
    );

    // A policy of the air-gapped scenario, through the CLI; the endpoint it uses stays.
    let added = stdout_ok(&cli(
        d,
        &dev,
        &[
            "replication",
            "policy",
            "add",
            "to-airgap",
            "--to",
            "1",
            "--repos",
            "production/**",
            "--tags",
            "v*",
            "--trigger",
            "scheduled",
            "--cron",
            "0 */5 * * * *",
        ],
    ));
    assert!(
        added.contains("added replication policy 1 (to-airgap)"),
        "{added}"
    );
    let both_remote = curl("POST", &dev.url("/api/v2.0/replication/policies"))
        .arg("-u")
        .arg(&auth)
        .header("Content-Type", "application/json")
        .body(
            json!({"name": "p", "src_registry": {"id": 1}, "dest_registry": {"id": 1}}).to_string(),
        )
        .send();
    assert_eq!(both_remote.status, 400);
    let text = String::from_utf8_lossy(&both_remote.body);
    assert!(text.contains("one side must be this registry"), "{text}");
    let policies = stdout_ok(&cli(
        d,
        &dev,
        &["replication", "policy", "list", "--output", "json"],
    ));
    let policies: serde_json::Value = serde_json::from_str(&policies).unwrap();
    assert_eq!(policies[0]["dest_registry"]["id"], 1);
    assert_eq!(policies[0]["src_registry"], serde_json::Value::Null);
    assert_eq!(
        policies[0]["filters"][1],
        json!({"type": "tag", "value": "v*", "decoration": "matches"})
    );
    assert_eq!(
        policies[0]["trigger"]["trigger_settings"]["cron"],
        "0 */5 * * * *"
    );
    failed_with(&cli(d, &dev, &["registry", "remove", "1"]), "to-airgap");
    stdout_ok(&cli(d, &dev, &["replication", "policy", "remove", "1"]));
    stdout_ok(&cli(d, &dev, &["registry", "remove", "1"]));
}
