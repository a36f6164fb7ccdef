//! A small client for Wharf's (Harbor-shaped) management API, and the
//! credentials `wharf login` stores: `~/.config/wharf/auth.json` (0600), in
//! Docker's `{"auths": {host: {"auth": base64(user:password)}}}` shape.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How to reach the registry and as whom; shared by every management verb.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// Registry host[:port] or URL [env: WHARF_REGISTRY; default: the last `wharf login`].
    #[arg(long, env = "WHARF_REGISTRY", global = true)]
    pub registry: Option<String>,
    /// User or robot name (overrides stored credentials).
    #[arg(long, env = "WHARF_USERNAME", global = true)]
    pub username: Option<String>,
    /// Password or robot secret (prefer WHARF_PASSWORD or `wharf login`).
    #[arg(long, env = "WHARF_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// Plain HTTP instead of HTTPS.
    #[arg(long, global = true)]
    pub insecure: bool,
}

#[derive(Serialize, Deserialize, Default)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    current: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct AuthEntry {
    auth: String,
    #[serde(default)]
    insecure: bool,
}

fn auth_path() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("WHARF_CONFIG_DIR") {
        return Ok(PathBuf::from(dir).join("auth.json"));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| anyhow!("neither HOME nor XDG_CONFIG_HOME is set; set WHARF_CONFIG_DIR"))?;
    Ok(base.join("wharf/auth.json"))
}

fn read_auth_file() -> anyhow::Result<AuthFile> {
    let path = auth_path()?;
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AuthFile::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Store credentials for `host`, readable by the owner only.
pub fn save_login(
    host: &str,
    user: &str,
    password: &str,
    insecure: bool,
) -> anyhow::Result<PathBuf> {
    let path = auth_path()?;
    let mut file = read_auth_file()?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    file.auths
        .insert(host.to_string(), AuthEntry { auth, insecure });
    file.current = Some(host.to_string());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(&serde_json::to_vec_pretty(&file)?)?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

pub struct Client {
    base: String,
    auth: Option<(String, String)>,
    http: reqwest::Client,
}

/// `host[:port]` of a registry argument (scheme stripped).
pub fn host_of(registry: &str) -> &str {
    registry
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
}

impl Client {
    pub fn new(target: &Target) -> anyhow::Result<Client> {
        let file = read_auth_file()?;
        let registry = target
            .registry
            .clone()
            .or(file.current.clone())
            .ok_or_else(|| {
                anyhow!("no registry given: pass --registry HOST or run `wharf login HOST` first")
            })?;
        let host = host_of(&registry).to_string();
        let stored = file.auths.get(&host);
        let insecure = target.insecure
            || registry.starts_with("http://")
            || stored.is_some_and(|s| s.insecure);
        let auth = match (&target.username, &target.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            (Some(_), None) | (None, Some(_)) => {
                bail!("give both --username and --password, or neither")
            }
            (None, None) => stored.map(|s| decode_auth(&s.auth)).transpose()?,
        };
        Ok(Client {
            base: format!("{}://{host}", if insecure { "http" } else { "https" }),
            auth,
            http: http_client()?,
        })
    }

    /// Send a request to `/api/v2.0{path}`; non-2xx answers become errors with the server's message.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/api/v2.0{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some((u, p)) = &self.auth {
            req = req.basic_auth(u, Some(p));
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let msg = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["errors"][0]["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        bail!("{method} {path}: {status}: {msg}")
    }

    pub async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let resp = self.call(method, path, body).await?;
        let text = resp.text().await?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).context("the server's answer is not JSON")
    }
}

fn decode_auth(auth: &str) -> anyhow::Result<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .context("stored credentials are corrupt")?;
    let s = String::from_utf8(raw).context("stored credentials are corrupt")?;
    let (u, p) = s
        .split_once(':')
        .ok_or_else(|| anyhow!("stored credentials are corrupt"))?;
    Ok((u.to_string(), p.to_string()))
}

pub fn http_client() -> anyhow::Result<reqwest::Client> {
    // Ring for TLS: no C/cmake build. Installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}
