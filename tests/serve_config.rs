//! `wharf serve` configuration naming: every flag `--some-flag` is also the variable
//! `WHARF_SOME_FLAG` and the file key `some_flag`; renamed variables and keys still work
//! under their former names; a flag beats a variable beats the file. Observed through
//! the real binary: `--help`, and the effective configuration it logs at debug level.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Every variable this file sets or that could leak in from the caller's environment.
const VARIABLES: &[&str] = &[
    "WHARF_CONFIG",
    "WHARF_VULN_DB",
    "WHARF_DB",
    "WHARF_VULN_DB_REFRESH_HOURS",
    "WHARF_DB_REFRESH_HOURS",
    "WHARF_VULN_DB_REF",
    "WHARF_DB_REF",
    "WHARF_VULN_DB_INSECURE",
    "WHARF_DB_INSECURE",
    "WHARF_VULN_DB_USERNAME",
    "WHARF_DB_USERNAME",
    "WHARF_VULN_DB_PASSWORD",
    "WHARF_DB_PASSWORD",
    "WHARF_TOKEN_TTL",
    "WHARF_LOG_LEVEL",
    "WHARF_LOG",
    "WHARF_STORAGE",
    "WHARF_S3_ENDPOINT",
    "WHARF_S3_REGION",
    "WHARF_S3_PATH_STYLE",
    "WHARF_S3_ALLOW_HTTP",
    "WHARF_STORAGE_REDIRECT",
];

/// Starts `wharf serve` with `args`, `env` and (when given) a config file holding `file`;
/// returns the effective configuration it logs, then stops it.
fn effective_config(args: &[&str], env: &[(&str, &str)], file: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wharf"));
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--auth=false",
        "--data-dir",
    ])
    .arg(dir.path().join("data"));
    if let Some(text) = file {
        let path = dir.path().join("wharf.toml");
        std::fs::write(&path, text).unwrap();
        cmd.arg("--config").arg(path);
    }
    for v in VARIABLES {
        cmd.env_remove(v);
    }
    if !env.iter().any(|(k, _)| k.starts_with("WHARF_LOG")) {
        cmd.env("WHARF_LOG_LEVEL", "warn,wharf=debug");
    }
    let mut child = cmd
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting wharf serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("effective configuration") {
                let _ = tx.send(Ok(line));
                return;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = tx.send(Err(seen));
    });
    let got = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    match got {
        Ok(Ok(line)) => line,
        Ok(Err(log)) => panic!("no effective configuration logged; stderr:\n{log}"),
        Err(_) => panic!("no effective configuration logged within 60 s"),
    }
}

fn refresh_hours(config: &str) -> u64 {
    let rest = config
        .split("vuln_db_refresh_hours: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no vuln_db_refresh_hours in {config}"));
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn new_names_and_former_names_both_work() {
    let file = "vuln_db_refresh_hours = 5\n";
    // The file alone.
    assert_eq!(refresh_hours(&effective_config(&[], &[], Some(file))), 5);
    // The new variable, and the former one, each beat the file.
    let new = [("WHARF_VULN_DB_REFRESH_HOURS", "6")];
    assert_eq!(refresh_hours(&effective_config(&[], &new, Some(file))), 6);
    let old = [("WHARF_DB_REFRESH_HOURS", "7")];
    assert_eq!(refresh_hours(&effective_config(&[], &old, Some(file))), 7);
    // Both variables: the new name wins.
    let both = [
        ("WHARF_VULN_DB_REFRESH_HOURS", "6"),
        ("WHARF_DB_REFRESH_HOURS", "7"),
    ];
    assert_eq!(refresh_hours(&effective_config(&[], &both, Some(file))), 6);
    // A flag beats either variable.
    let flag = ["--vuln-db-refresh-hours", "8"];
    assert_eq!(refresh_hours(&effective_config(&flag, &new, Some(file))), 8);
    assert_eq!(refresh_hours(&effective_config(&flag, &old, Some(file))), 8);

    // The other renamed variables, under both names.
    for (new, old, value, shown) in [
        (
            "WHARF_VULN_DB",
            "WHARF_DB",
            "/tmp/x/vuln.db",
            "vuln_db: Some(\"/tmp/x/vuln.db\")",
        ),
        (
            "WHARF_VULN_DB_REF",
            "WHARF_DB_REF",
            "mirror.example.com/db:1",
            "vuln_db_ref: Some(\"mirror.example.com/db:1\")",
        ),
        (
            "WHARF_VULN_DB_INSECURE",
            "WHARF_DB_INSECURE",
            "true",
            "vuln_db_insecure: true",
        ),
        (
            "WHARF_VULN_DB_USERNAME",
            "WHARF_DB_USERNAME",
            "reader",
            "vuln_db_username: Some(\"reader\")",
        ),
    ] {
        for var in [new, old] {
            let c = effective_config(&[], &[(var, value)], None);
            assert!(c.contains(shown), "{var}={value}: {c}");
        }
    }
    // The password under both names: set, and never printed.
    for var in ["WHARF_VULN_DB_PASSWORD", "WHARF_DB_PASSWORD"] {
        let c = effective_config(&[], &[(var, "s3cret-value")], None);
        assert!(
            c.contains("vuln_db_password: Some(\"<redacted>\")"),
            "{var}: {c}"
        );
        assert!(!c.contains("s3cret-value"), "{var}: {c}");
    }
    // The log level: new variable and former one (the effective configuration is only
    // logged when wharf's debug level is on, so seeing it proves the variable was read).
    for var in ["WHARF_LOG_LEVEL", "WHARF_LOG"] {
        effective_config(&[], &[(var, "warn,wharf=debug")], None);
    }
}

#[test]
fn token_ttl_file_key_and_its_former_name() {
    let ttl = |c: &str| -> u64 {
        c.split("token_ttl_secs: ")
            .nth(1)
            .unwrap()
            .split(|ch: char| !ch.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(ttl(&effective_config(&[], &[], None)), 1800);
    assert_eq!(
        ttl(&effective_config(&[], &[], Some("token_ttl = 60\n"))),
        60
    );
    assert_eq!(
        ttl(&effective_config(&[], &[], Some("token_ttl_secs = 61\n"))),
        61
    );
    let env = [("WHARF_TOKEN_TTL", "62")];
    assert_eq!(
        ttl(&effective_config(&[], &env, Some("token_ttl = 60\n"))),
        62
    );
    let flag = ["--token-ttl", "63"];
    assert_eq!(
        ttl(&effective_config(&flag, &env, Some("token_ttl = 60\n"))),
        63
    );
}

/// `wharf serve --help` names, for every flag, the variable that sets it: the flag's
/// name upper-cased with `WHARF_` in front.
#[test]
fn help_names_every_flags_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let flags: Vec<&str> = help
        .lines()
        // Option lines: "  -x, --flag <V>" or "      --flag <V>"; descriptions are indented deeper.
        .filter_map(|l| {
            l.strip_prefix("      --").or_else(|| {
                l.get(6..)?
                    .strip_prefix("--")
                    .filter(|_| l.starts_with("  -"))
            })
        })
        .map(|l| l.split([' ', '[', '=', '<']).next().unwrap())
        .filter(|f| !matches!(*f, "help" | "version"))
        .collect();
    for expected in [
        "config",
        "listen",
        "data-dir",
        "storage",
        "s3-endpoint",
        "s3-region",
        "s3-path-style",
        "s3-allow-http",
        "storage-redirect",
        "tls-cert",
        "tls-key",
        "max-concurrent-uploads",
        "upload-expiry-hours",
        "auth",
        "admin-password",
        "external-url",
        "token-ttl",
        "vuln-db",
        "scan-workers",
        "vuln-db-ref",
        "vuln-db-insecure",
        "vuln-db-username",
        "vuln-db-password",
        "vuln-db-refresh-hours",
        "trusted-root",
        "log-level",
        "log-format",
    ] {
        assert!(
            flags.contains(&expected),
            "--{expected} missing from:\n{help}"
        );
    }
    for flag in flags {
        let var = format!("WHARF_{}", flag.to_uppercase().replace('-', "_"));
        assert!(
            help.contains(&format!("[env: {var}")),
            "--{flag} does not name {var}:\n{help}"
        );
    }
    assert!(
        help.contains("WHARF_DB_REFRESH_HOURS"),
        "former names are not taught"
    );
}

/// The S3 storage settings layer like every other: the file sets all, a variable
/// overrides the endpoint, a flag the bucket; the secret credentials are not in
/// the configuration at all (they come from `AWS_*`, read by the S3 client).
#[test]
fn storage_settings_from_file_env_and_flags() {
    let config = effective_config(
        &["--storage", "s3://from-flag/p", "--storage-redirect"],
        &[
            ("WHARF_S3_ENDPOINT", "http://from-env:9000"),
            ("AWS_SECRET_ACCESS_KEY", "do-not-log-me"),
        ],
        Some(
            "storage = \"s3://from-file/q\"\ns3_endpoint = \"http://from-file:9000\"\n\
             s3_region = \"eu-west-3\"\ns3_path_style = false\ns3_allow_http = true\n",
        ),
    );
    for want in [
        "storage: Some(\"s3://from-flag/p\")",
        "s3_endpoint: Some(\"http://from-env:9000\")",
        "s3_region: Some(\"eu-west-3\")",
        "s3_path_style: Some(false)",
        "s3_allow_http: true",
        "storage_redirect: true",
    ] {
        assert!(config.contains(want), "{want} not in {config}");
    }
    assert!(!config.contains("do-not-log-me"), "{config}");
}
