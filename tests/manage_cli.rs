//! `wharf login`, `project`, `member`, `robot`, `user` against a real
//! `wharf serve --auth`, as an administrator and a CI script would use them.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{Wharf, curl};
use serde_json::Value;

const ADMIN_PW: &str = "Harbor12345";

struct Cli {
    config: tempfile::TempDir,
    host: String,
}

impl Cli {
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(args)
            .env("WHARF_CONFIG_DIR", self.config.path())
            .env_remove("WHARF_REGISTRY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "wharf {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn management_verbs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let w = Wharf::start_env(
        dir.path(),
        &["--auth"],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    );
    let cli = Cli {
        config: tempfile::tempdir().unwrap(),
        host: w.host(),
    };

    // A wrong password is refused and nothing is stored.
    let bad = cli.run(
        &[
            "login",
            &cli.host,
            "--insecure",
            "-u",
            "admin",
            "--password-stdin",
        ],
        "nope\n",
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("401"));
    assert!(!cli.config.path().join("auth.json").exists());
    let out = cli.ok(
        &[
            "login",
            &cli.host,
            "--insecure",
            "-u",
            "admin",
            "--password-stdin",
        ],
        &format!("{ADMIN_PW}\n"),
    );
    assert!(out.contains("Login Succeeded"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cli.config.path().join("auth.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "credentials file must be private");
    }

    cli.ok(&["project", "create", "team"], "");
    cli.ok(
        &["user", "create", "alice", "--email", "alice@example.com"],
        "Passw0rd!\n",
    );
    cli.ok(
        &["member", "add", "team", "alice", "--role", "developer"],
        "",
    );
    let members: Value =
        serde_json::from_str(&cli.ok(&["member", "list", "team", "--output", "json"], "")).unwrap();
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["entity_name"] == "alice" && m["role_name"] == "developer")
    );
    // Custom roles: defined by name with actions, given like a built-in role.
    cli.ok(
        &[
            "user",
            "create",
            "scanbot",
            "--email",
            "scanbot@example.com",
        ],
        "Passw0rd!\n",
    );
    let bad = cli.run(
        &["role", "create", "scanner", "--action", "pull,teleport"],
        "",
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("teleport"));
    cli.ok(&["role", "create", "scanner", "--action", "pull,scan"], "");
    cli.ok(
        &["member", "add", "team", "scanbot", "--role", "scanner"],
        "",
    );
    let roles: Value =
        serde_json::from_str(&cli.ok(&["role", "list", "--output", "json"], "")).unwrap();
    let scanner = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "scanner")
        .unwrap();
    assert_eq!(scanner["actions"], serde_json::json!(["pull", "scan"]));
    assert!(cli.ok(&["role", "list"], "").contains("pull,scan"));
    let held = cli.run(&["role", "delete", "scanner"], "");
    assert_eq!(held.status.code(), Some(2), "a held role is not removed");
    assert!(String::from_utf8_lossy(&held.stderr).contains("409"));
    cli.ok(&["member", "remove", "team", "scanbot"], "");
    cli.ok(&["role", "delete", "scanner"], "");
    let unknown = cli.run(
        &["member", "add", "team", "scanbot", "--role", "scanner"],
        "",
    );
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no role named scanner"));

    let table = cli.ok(&["project", "list"], "");
    assert!(table.lines().next().unwrap().starts_with("NAME"));
    assert!(table.contains("team") && table.contains("library"));

    // Project settings: scanning, the pull gate, trusted keys, the CVE allow-list.
    let keydir = tempfile::tempdir().unwrap();
    let keygen = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .current_dir(keydir.path())
        .env("COSIGN_PASSWORD", "pw")
        .args(["key", "generate"])
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let key = keydir.path().join("cosign.pub");
    cli.ok(
        &[
            "project",
            "set",
            "team",
            "auto_scan=true",
            "prevent_vul=true",
            "severity=high",
            "reuse_sys_cve_allowlist=false",
            "--trusted-key",
            key.to_str().unwrap(),
            "--allow-cve",
            "CVE-2023-32681",
            "--allow-cve-until",
            "2030-01-01",
        ],
        "",
    );
    let shown: Value =
        serde_json::from_str(&cli.ok(&["project", "show", "team", "--output", "json"], ""))
            .unwrap();
    assert_eq!(shown["metadata"]["auto_scan"], "true");
    assert_eq!(shown["metadata"]["severity"], "high");
    assert_eq!(
        shown["metadata"]["wharf_trusted_keys"],
        std::fs::read_to_string(&key).unwrap()
    );
    assert_eq!(
        shown["cve_allowlist"]["items"][0]["cve_id"],
        "CVE-2023-32681"
    );
    assert_eq!(
        shown["cve_allowlist"]["expires_at"], 1_893_456_000,
        "2030-01-01T00:00:00Z"
    );
    let table = cli.ok(&["project", "show", "team"], "");
    assert!(
        table.contains("1 key(s)") && table.contains("CVE-2023-32681"),
        "{table}"
    );
    let bad = cli.run(&["project", "set", "team", "severity=extreme"], "");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("severity"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert_eq!(
        cli.run(&["project", "set", "team"], "").status.code(),
        Some(2),
        "nothing to set"
    );

    // A CI robot: created, used, disabled, re-enabled, rotated.
    let created: Value = serde_json::from_str(&cli.ok(
        &[
            "robot",
            "create",
            "ci",
            "--project",
            "team",
            "--access",
            "repository:pull,repository:push",
            "--output",
            "json",
        ],
        "",
    ))
    .unwrap();
    let (name, secret) = (
        created["name"].as_str().unwrap().to_string(),
        created["secret"].as_str().unwrap().to_string(),
    );
    assert_eq!(name, "robot$team+ci");
    let token = |user: &str, pw: &str| {
        curl(
            "GET",
            &w.url("/service/token?service=wharf&scope=repository:team/app:push"),
        )
        .arg("-u")
        .arg(&format!("{user}:{pw}"))
        .send()
        .status
    };
    assert_eq!(token(&name, &secret), 200);
    cli.ok(&["robot", "disable", &name], "");
    assert_eq!(token(&name, &secret), 401);
    cli.ok(&["robot", "enable", &name], "");
    assert_eq!(token(&name, &secret), 200);
    let fresh = cli.ok(&["robot", "refresh", &name], "");
    let fresh = fresh.trim().strip_prefix("secret: ").unwrap().to_string();
    assert_eq!(token(&name, &secret), 401);
    assert_eq!(token(&name, &fresh), 200);
    let robots: Value = serde_json::from_str(&cli.ok(
        &["robot", "list", "--project", "team", "--output", "json"],
        "",
    ))
    .unwrap();
    assert_eq!(robots.as_array().unwrap().len(), 1);

    // Passwords: alice changes her own; the admin resets it.
    let alice = Cli {
        config: tempfile::tempdir().unwrap(),
        host: w.host(),
    };
    alice.ok(
        &[
            "login",
            &alice.host,
            "--insecure",
            "-u",
            "alice",
            "--password-stdin",
        ],
        "Passw0rd!\n",
    );
    alice.ok(&["user", "passwd"], "Passw0rd!\nN3wPassword\n");
    assert_eq!(token("alice", "N3wPassword"), 200);
    cli.ok(&["user", "passwd", "alice"], "Res3tPassword\n");
    assert_eq!(token("alice", "Res3tPassword"), 200);
    // Alice is no administrator.
    let denied = alice.run(&["user", "list"], "");
    assert_eq!(denied.status.code(), Some(2));

    cli.ok(&["member", "remove", "team", "alice"], "");
    cli.ok(&["robot", "delete", &name], "");
    cli.ok(&["project", "delete", "team"], "");
    let gone = cli.run(&["project", "delete", "team"], "");
    assert_eq!(gone.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("not found"));
}
