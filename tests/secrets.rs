//! `wharf scan --scanners secret`: an image built from the Debian test image plus a layer of
//! planted secrets (keys made here by `ssh-keygen` and `openssl`, tokens built from each
//! vendor's documented format with random bodies). Every planted secret must be found at
//! the line it was written to and never appear in the report; the files Trivy does not
//! read (binaries, system paths, tests) give nothing, while a file deleted by a later layer
//! still counts (its bytes are in the lower layer's blob); the real Trivy finds the same (file, category, line) set in the same image; and the
//! plain Debian image gives no findings at all, as with Trivy.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use serde_json::{Value, json};

fn wharf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
}

fn debian() -> std::path::PathBuf {
    let p = common::test_images().join("oci/debian");
    assert!(p.join("index.json").is_file(), "debian test image missing");
    p
}

/// `n` random characters from `alphabet` (from the OS's randomness).
fn random(n: usize, alphabet: &str) -> String {
    let mut buf = vec![0u8; n];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    let a: Vec<char> = alphabet.chars().collect();
    buf.iter().map(|b| a[*b as usize % a.len()]).collect()
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_NUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX: &str = "0123456789abcdef";
const DIGITS: &str = "0123456789";

/// A planted secret: file, rule, first and last line, and the secret text itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Planted {
    file: String,
    rule: &'static str,
    category: &'static str,
    lines: (u64, u64),
    secret: String,
}

fn key_file(dir: &Path, name: &str, cmd: &mut Command) -> Vec<u8> {
    common::run(cmd.current_dir(dir));
    std::fs::read(dir.join(name)).unwrap()
}

/// The lines of a PEM/OpenSSH private key's base64 body (1-based, inclusive) in `text`.
fn key_body_lines(text: &str) -> (u64, u64) {
    let lines: Vec<&str> = text.lines().collect();
    let begin = lines
        .iter()
        .position(|l| l.starts_with("-----BEGIN") && l.contains("PRIVATE KEY"))
        .unwrap();
    let end = lines
        .iter()
        .position(|l| l.starts_with("-----END") && l.contains("PRIVATE KEY"))
        .unwrap();
    (begin as u64 + 2, end as u64)
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// The planted files and what is in them.
fn plant(work: &Path) -> (Vec<(String, Vec<u8>)>, Vec<Planted>) {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut planted = Vec::new();

    // private keys, made by the real tools
    let ed = key_file(
        work,
        "id_ed25519",
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f", "id_ed25519"]),
    );
    let rsa = key_file(
        work,
        "rsa.pem",
        Command::new("openssl").args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.pem",
        ]),
    );
    let ec = key_file(
        work,
        "ec.pem",
        Command::new("openssl").args([
            "ecparam",
            "-genkey",
            "-name",
            "prime256v1",
            "-out",
            "ec.pem",
        ]),
    );
    for (path, data) in [
        ("root/.ssh/id_ed25519", ed),
        ("etc/ssl/private/server.key", rsa),
        ("srv/app/ec.pem", ec),
    ] {
        let text = String::from_utf8(data.clone()).unwrap();
        planted.push(Planted {
            file: path.into(),
            rule: "private-key",
            category: "AsymmetricPrivateKey",
            lines: key_body_lines(&text),
            secret: text.lines().nth(1).unwrap().to_string(),
        });
        files.push((path.into(), data));
    }

    // tokens in an env file, one per line, each from the vendor's documented shape
    let header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload =
        b64url(format!(r#"{{"sub":"{}","iat":1700000000}}"#, random(12, DIGITS)).as_bytes());
    let jwt = format!("{header}.{payload}.{}", random(43, ALNUM));
    let tokens: Vec<(&'static str, &'static str, String, String)> = vec![
        (
            "aws-access-key-id",
            "AWS",
            "AWS_ACCESS_KEY_ID=".into(),
            format!("AKIA{}", random(16, UPPER_NUM)),
        ),
        (
            "aws-secret-access-key",
            "AWS",
            "aws_secret_access_key = ".into(),
            random(40, &format!("{ALNUM}/+")),
        ),
        (
            "github-pat",
            "GitHub",
            "GITHUB_TOKEN=".into(),
            format!("ghp_{}", random(36, ALNUM)),
        ),
        (
            "gitlab-pat",
            "GitLab",
            "GITLAB_TOKEN=".into(),
            format!("glpat-{}", random(20, ALNUM)),
        ),
        (
            "slack-access-token",
            "Slack",
            "SLACK_BOT_TOKEN=".into(),
            format!("xoxb-{}", random(12, DIGITS)),
        ),
        (
            "slack-web-hook",
            "Slack",
            "SLACK_WEBHOOK=".into(),
            format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                random(8, UPPER_NUM),
                random(8, UPPER_NUM),
                random(24, ALNUM)
            ),
        ),
        (
            "stripe-secret-token",
            "Stripe",
            "STRIPE_KEY=".into(),
            format!("sk_live_{}", random(24, ALNUM)),
        ),
        (
            "npm-access-token",
            "Npm",
            "NPM_TOKEN=\"".into(),
            format!("npm_{}", random(36, ALNUM)),
        ),
        (
            "pypi-upload-token",
            "PyPI",
            "TWINE_PASSWORD=".into(),
            format!("pypi-AgEIcHlwaS5vcmc{}", random(60, ALNUM)),
        ),
        ("jwt-token", "JWT", "SESSION=".into(), jwt),
        (
            "shopify-token",
            "Shopify",
            "SHOPIFY=".into(),
            format!("shpat_{}", random(32, HEX)),
        ),
        (
            "age-secret-key",
            "Age",
            "AGE_KEY=".into(),
            format!(
                "AGE-SECRET-KEY-1{}",
                random(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")
            ),
        ),
    ];
    let mut env = String::from("# service settings\n");
    for (i, (rule, category, prefix, secret)) in tokens.into_iter().enumerate() {
        let close = if prefix.ends_with('"') { "\"" } else { "" };
        env.push_str(&format!("{prefix}{secret}{close}\n"));
        planted.push(Planted {
            file: "srv/app/.env".into(),
            rule,
            category,
            lines: (i as u64 + 2, i as u64 + 2),
            secret,
        });
    }
    files.push(("srv/app/.env".into(), env.into_bytes()));

    // a Google service-account key file as gcloud writes it (its private key is a second finding)
    let sa_key = String::from_utf8(files[1].1.clone()).unwrap();
    let sa = serde_json::to_string_pretty(&json!({
        "type": "service_account",
        "project_id": "wharf-test",
        "private_key_id": random(40, HEX),
        "private_key": sa_key,
        "client_email": "scanner@wharf-test.iam.gserviceaccount.com",
    }))
    .unwrap();
    let sa_line =
        |needle: &str| -> u64 { sa.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1 };
    planted.push(Planted {
        file: "srv/app/gcp.json".into(),
        rule: "gcp-service-account",
        category: "Google",
        lines: (sa_line("service_account"), sa_line("service_account")),
        secret: r#""type": "service_account""#.into(),
    });
    planted.push(Planted {
        file: "srv/app/gcp.json".into(),
        rule: "private-key",
        category: "AsymmetricPrivateKey",
        lines: (sa_line("private_key\""), sa_line("private_key\"")),
        secret: sa_key.lines().nth(1).unwrap().to_string(),
    });
    files.push(("srv/app/gcp.json".into(), sa.into_bytes()));

    // what neither scanner reads: a binary, a system path, a test fixture, and a tiny file
    let token = format!("ghp_{}", random(36, ALNUM));
    let mut blob = b"\x00\x01\x02binary\n".to_vec();
    blob.extend_from_slice(format!("GITHUB_TOKEN={token}\n").as_bytes());
    files.push(("srv/app/data.bin".into(), blob));
    files.push((
        "usr/share/doc/app/token.txt".into(),
        format!("GITHUB_TOKEN={token}\n").into_bytes(),
    ));
    files.push((
        "srv/app/tests/fixture.env".into(),
        format!("GITHUB_TOKEN={token}\n").into_bytes(),
    ));
    // a file the next layer deletes: its secret stays in this layer's blob, so it counts
    planted.push(Planted {
        file: "srv/app/old.env".into(),
        rule: "github-pat",
        category: "GitHub",
        lines: (1, 1),
        secret: token.clone(),
    });
    files.push((
        "srv/app/old.env".into(),
        format!("GITHUB_TOKEN={token}\n").into_bytes(),
    ));
    (files, planted)
}

/// The image: Debian, plus the planted layer, plus a layer deleting `srv/app/old.env`.
fn image(tmp: &Path) -> (std::path::PathBuf, String, Vec<Planted>, Vec<String>) {
    let work = tmp.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let (files, planted) = plant(&work);
    let mut all_secrets: Vec<String> = planted.iter().map(|p| p.secret.clone()).collect();
    for (_, data) in &files {
        if let Some(t) = String::from_utf8_lossy(data).split("GITHUB_TOKEN=").nth(1) {
            all_secrets.push(t.trim().to_string());
        }
    }
    let one = tmp.join("one");
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_slice()))
        .collect();
    let layer = common::layout_with_layer(&one, Some((&debian(), "bookworm-minbase")), &refs);
    let two = tmp.join("two");
    common::layout_with_layer(&two, Some((&one, "t")), &[("srv/app/.wh.old.env", b"")]);
    (two, layer, planted, all_secrets)
}

fn wharf_secrets(layout: &Path) -> Value {
    wharf_secrets_ref(&format!("oci:{}:t", layout.display()))
}

/// (file without a leading `/`, category, start line) of every secret in a Trivy-shaped report.
fn keys(report: &Value) -> BTreeSet<(String, String, u64)> {
    let mut out = BTreeSet::new();
    for r in report["Results"].as_array().into_iter().flatten() {
        for s in r["Secrets"].as_array().into_iter().flatten() {
            out.insert((
                r["Target"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('/')
                    .to_string(),
                s["Category"].as_str().unwrap().to_string(),
                s["StartLine"].as_u64().unwrap(),
            ));
        }
    }
    out
}

fn trivy_secrets(layout: &Path, cache: &Path) -> Value {
    common::require("trivy");
    let out = Command::new("trivy")
        .args([
            "image",
            "--quiet",
            "--format",
            "json",
            "--scanners",
            "secret",
        ])
        .args(["--skip-version-check", "--disable-telemetry", "--cache-dir"])
        .arg(cache)
        .arg("--input")
        .arg(layout)
        .output()
        .unwrap();
    serde_json::from_str(&common::stdout_ok(&out)).unwrap()
}

#[test]
fn planted_secrets_are_found_where_they_are_redacted_and_as_trivy_finds_them() {
    common::require("ssh-keygen");
    common::require("openssl");
    let tmp = tempfile::tempdir().unwrap();
    let (layout, layer, planted, all_secrets) = image(tmp.path());
    let report = wharf_secrets(&layout);

    // every planted secret, at its line, with its rule and the layer that wrote it
    let mut found: BTreeSet<(String, &str, u64, u64)> = BTreeSet::new();
    for r in report["Results"].as_array().unwrap() {
        assert_eq!(r["Class"], "secret", "only secrets were asked for: {r}");
        let file = r["Target"].as_str().unwrap();
        for s in r["Secrets"].as_array().unwrap() {
            let rule = planted
                .iter()
                .map(|p| p.rule)
                .find(|id| s["RuleID"] == *id)
                .unwrap_or_else(|| panic!("unexpected finding in {file}: {s}"));
            found.insert((
                file.to_string(),
                rule,
                s["StartLine"].as_u64().unwrap(),
                s["EndLine"].as_u64().unwrap(),
            ));
            assert!(s["Match"].as_str().unwrap().contains('*'), "{s}");
            assert_eq!(s["Layer"]["Digest"], layer.as_str(), "{s}");
        }
    }
    let want: BTreeSet<(String, &str, u64, u64)> = planted
        .iter()
        .map(|p| (p.file.clone(), p.rule, p.lines.0, p.lines.1))
        .collect();
    assert_eq!(found, want);

    // no secret text anywhere in the report, in any format
    let json = report.to_string();
    for format in ["table", "sarif"] {
        let out = wharf()
            .args(["scan", "--scanners", "secret", "--format", format])
            .arg(format!("oci:{}:t", layout.display()))
            .output()
            .unwrap();
        let text = common::stdout_ok(&out);
        for p in &planted {
            assert!(text.contains(&p.file), "{format} report names {}", p.file);
        }
        for s in &all_secrets {
            assert!(!text.contains(s.as_str()), "{format} report leaks {s}");
        }
    }
    for s in &all_secrets {
        assert!(!json.contains(s.as_str()), "JSON report leaks {s}");
    }
    let sarif: Value = serde_json::from_str(&common::stdout_ok(
        &wharf()
            .args(["scan", "--scanners", "secret", "--format", "sarif"])
            .arg(format!("oci:{}:t", layout.display()))
            .output()
            .unwrap(),
    ))
    .unwrap();
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        planted.len()
    );

    // the real Trivy on the same image
    let trivy = trivy_secrets(&layout, &tmp.path().join("trivy-cache"));
    assert_eq!(keys(&report), keys(&trivy), "Wharf (left) vs Trivy (right)");

    // CI: secrets count towards --exit-code
    let out = wharf()
        .args([
            "scan",
            "--scanners",
            "secret",
            "--exit-code",
            "3",
            "--severity",
            "CRITICAL",
        ])
        .arg(format!("oci:{}:t", layout.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn the_debian_image_has_no_secrets_for_wharf_or_trivy() {
    let tmp = tempfile::tempdir().unwrap();
    let report = wharf_secrets_ref(&format!("oci:{}:bookworm-minbase", debian().display()));
    assert_eq!(keys(&report), BTreeSet::new(), "{report}");
    let trivy = trivy_secrets(&debian(), &tmp.path().join("trivy-cache"));
    assert_eq!(keys(&trivy), BTreeSet::new());
}

fn wharf_secrets_ref(image: &str) -> Value {
    let out = wharf()
        .args(["scan", "--scanners", "secret", "--format", "json", image])
        .output()
        .unwrap();
    serde_json::from_str(&common::stdout_ok(&out)).unwrap()
}
