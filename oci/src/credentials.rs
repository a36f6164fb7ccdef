//! Registry credentials from the Docker config, as Docker, cosign and Trivy find them.
//!
//! `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`):
//! - `credHelpers.<registry>`: run `docker-credential-<name> get` for that registry;
//! - else `credsStore`: the same helper protocol for every registry;
//! - `auths.<registry>`: `auth` (base64 `user:password`), or `username`/`password`, or
//!   `identitytoken` / `registrytoken`.
//!
//! A helper answers `{"ServerURL","Username","Secret"}` on stdout for the server URL it
//! read on stdin; the user name `<token>` means the secret is an identity token (an OAuth2
//! refresh token), not a password. A helper that does not know the registry exits non-zero
//! saying "credentials not found"; we then look at `auths` as well, so a config that
//! names a store but keeps a plain entry for a local registry still works.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use crate::{Error, Result};

/// A helper that has not answered in this long is killed: a hung keychain prompt must not
/// hang a CI gate or an admission request.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest helper answer read: credentials are small, this bounds a misbehaving helper.
const HELPER_MAX_OUTPUT: u64 = 1 << 20;

/// What to present to a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// User name and password (or personal access token): HTTP Basic, or the Basic
    /// credentials of a bearer token request.
    Basic { username: String, password: String },
    /// An identity token (OAuth2 refresh token), exchanged for a registry token.
    IdentityToken(String),
    /// A registry token sent as `Authorization: Bearer` as is.
    RegistryToken(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credentials::IdentityToken(_) => write!(f, "IdentityToken(<redacted>)"),
            Credentials::RegistryToken(_) => write!(f, "RegistryToken(<redacted>)"),
        }
    }
}

impl Credentials {
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name and password, for callers that only speak Basic.
    pub fn as_basic(&self) -> Option<(&str, &str)> {
        match self {
            Credentials::Basic { username, password } => Some((username, password)),
            _ => None,
        }
    }

    pub(crate) fn to_auth(&self) -> RegistryAuth {
        match self {
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Credentials::RegistryToken(t) => RegistryAuth::Bearer(t.clone()),
            // Docker exchanges an identity token for a registry token with an OAuth2
            // `grant_type=refresh_token` POST to the realm; oci-client only does the GET
            // token flow, so the token goes there as the Basic password under Docker's
            // `<token>` user name (what registries that take the token directly accept).
            // Registries that insist on the refresh-token POST are not served yet.
            Credentials::IdentityToken(t) => RegistryAuth::Basic("<token>".into(), t.clone()),
        }
    }
}

/// `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => Some(PathBuf::from(d)),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")),
    }
}

/// Credentials for `registry` (`host[:port]`) from the Docker config, if any.
pub fn from_docker_config(registry: &str) -> Result<Option<Credentials>> {
    match docker_config_dir() {
        Some(dir) => from_docker_config_in(&dir, registry),
        None => Ok(None),
    }
}

#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: std::collections::BTreeMap<String, String>,
    #[serde(rename = "credsStore", default)]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
    registrytoken: Option<String>,
}

/// The keys a registry may be filed under: bare host, with scheme, and Docker Hub's
/// historical `https://index.docker.io/v1/`.
fn keys_for(registry: &str) -> Vec<String> {
    let mut keys = vec![
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
    ];
    if matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        keys.insert(0, "https://index.docker.io/v1/".to_string());
        keys.extend(["index.docker.io".into(), "docker.io".into()]);
    }
    keys
}

/// [`from_docker_config`] for an explicit config directory.
pub fn from_docker_config_in(dir: &Path, registry: &str) -> Result<Option<Credentials>> {
    let path = dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::DockerConfig {
                path: path.display().to_string(),
                reason: e.to_string(),
            });
        }
    };
    let err = |reason: String| Error::DockerConfig {
        path: path.display().to_string(),
        reason,
    };
    let config: ConfigFile = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    let keys = keys_for(registry);
    let helper = keys
        .iter()
        .find_map(|k| config.cred_helpers.get(k))
        .or(config.creds_store.as_ref());
    if let Some(helper) = helper.filter(|h| !h.is_empty()) {
        // Docker hands the helper the key the registry is filed under; for Docker Hub
        // that is the v1 URL, for everything else the host.
        if let Some(c) = run_helper(helper, &keys[0])? {
            return Ok(Some(c));
        }
    }
    for k in &keys {
        let Some(entry) = config.auths.get(k) else {
            continue;
        };
        if let Some(t) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credentials::IdentityToken(t.clone())));
        }
        if let Some(t) = entry.registrytoken.as_ref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credentials::RegistryToken(t.clone())));
        }
        if let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
            let decoded = STANDARD
                .decode(auth)
                .map_err(|_| err(format!("auth for {k} is not base64")))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| err(format!("auth for {k} is not UTF-8")))?;
            let (u, p) = decoded
                .split_once(':')
                .ok_or_else(|| err(format!("auth for {k} is not user:password")))?;
            return Ok(Some(Credentials::basic(u, p)));
        }
        if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
            return Ok(Some(Credentials::basic(u, p)));
        }
    }
    Ok(None)
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Runs `docker-credential-<helper> get` with `server` on stdin (docker-credential-helpers'
/// protocol). `None` when the helper does not know the server.
pub fn run_helper(helper: &str, server: &str) -> Result<Option<Credentials>> {
    let fail = |reason: String| Error::CredentialHelper {
        helper: helper.to_string(),
        registry: server.to_string(),
        reason,
    };
    if !helper
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(fail(
            "helper name must be letters, digits, '-', '_' or '.'".into(),
        ));
    }
    run_program(
        Path::new(&format!("docker-credential-{helper}")),
        helper,
        server,
    )
}

/// [`run_helper`] with the helper program given by path (tests, or helpers kept outside
/// `PATH`).
pub fn run_helper_at(program: &Path, server: &str) -> Result<Option<Credentials>> {
    let name = program
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.trim_start_matches("docker-credential-"))
        .unwrap_or("?");
    run_program(program, name, server)
}

fn run_program(program: &Path, helper: &str, server: &str) -> Result<Option<Credentials>> {
    let fail = |reason: String| Error::CredentialHelper {
        helper: helper.to_string(),
        registry: server.to_string(),
        reason,
    };
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    // The helper reads the server URL to EOF; a helper that exits early closes the pipe,
    // which the exit status then explains.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stdout).take(HELPER_MAX_OUTPUT).read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stderr).take(HELPER_MAX_OUTPUT).read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + HELPER_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "no answer within {} s",
                    HELPER_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if !status.success() {
        let said = String::from_utf8_lossy(if out.is_empty() { &err } else { &out })
            .trim()
            .to_string();
        // docker-credential-helpers' ErrCredentialsNotFound.
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(fail(format!("exited with {status}: {said}")));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out).map_err(|e| {
        fail(format!(
            "answer is not {{\"Username\",\"Secret\"}} JSON: {e}"
        ))
    })?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if answer.username == "<token>" {
        Credentials::IdentityToken(answer.secret)
    } else {
        Credentials::basic(answer.username, answer.secret)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_auths() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            from_docker_config_in(dir.path(), "r.example").unwrap(),
            None
        );
        let auth = STANDARD.encode("alice:pa:ss");
        std::fs::write(
            dir.path().join("config.json"),
            format!(
                r#"{{"auths":{{"https://r.example":{{"auth":"{auth}"}},"127.0.0.1:5000":{{"auth":"{auth}"}},
                "u.example":{{"username":"bob","password":"pw"}},
                "t.example":{{"identitytoken":"refresh"}}}}}}"#
            ),
        )
        .unwrap();
        let want = Some(Credentials::basic("alice", "pa:ss"));
        assert_eq!(
            from_docker_config_in(dir.path(), "r.example").unwrap(),
            want
        );
        assert_eq!(
            from_docker_config_in(dir.path(), "127.0.0.1:5000").unwrap(),
            want
        );
        assert_eq!(
            from_docker_config_in(dir.path(), "u.example").unwrap(),
            Some(Credentials::basic("bob", "pw"))
        );
        assert_eq!(
            from_docker_config_in(dir.path(), "t.example").unwrap(),
            Some(Credentials::IdentityToken("refresh".into()))
        );
        assert_eq!(
            from_docker_config_in(dir.path(), "other.example").unwrap(),
            None
        );
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"r.example":{"auth":"!!"}}}"#,
        )
        .unwrap();
        assert!(matches!(
            from_docker_config_in(dir.path(), "r.example"),
            Err(Error::DockerConfig { .. })
        ));
    }

    #[test]
    fn docker_hub_is_filed_under_its_v1_url() {
        let dir = tempfile::tempdir().unwrap();
        let auth = STANDARD.encode("hubuser:hubpass");
        std::fs::write(
            dir.path().join("config.json"),
            format!(r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        assert_eq!(
            from_docker_config_in(dir.path(), "docker.io").unwrap(),
            Some(Credentials::basic("hubuser", "hubpass"))
        );
    }

    #[test]
    fn helper_names_cannot_be_paths() {
        assert!(matches!(
            run_helper("../../bin/sh", "r.example"),
            Err(Error::CredentialHelper { .. })
        ));
    }
}
