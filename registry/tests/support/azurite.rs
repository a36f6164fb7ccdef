//! Azure Blob Storage for tests: Azurite, Microsoft's emulator (npm `azurite`,
//! installed with the Azure SDK in `tests/fixtures/azurite` by scripts/test.sh),
//! one per test binary on a free port, keeping blobs in memory; one fresh
//! container per test, created (and listed) through the SDK, `admin.mjs`.
//! Azurite checks Shared Key signatures and SAS tokens, and implements blocks
//! (Put Block, Put Block List), Copy Blob and listings; it does not emulate
//! Azure's throttling, its asynchronous copies, or accounts other than its
//! well-known `devstoreaccount1`.
//!
//! As with `s3.rs`, a shell guard stops the server when this process exits
//! (`guarded.rs`). `WHARF_TEST_AZURE=http://host:port/devstoreaccount1` uses
//! that endpoint instead.

#![allow(dead_code)]

#[path = "guarded.rs"]
mod guarded;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use guarded::{Guard, Probe};

pub const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's published development key (not a secret).
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub struct Azurite {
    /// `http://127.0.0.1:PORT/devstoreaccount1`: the account's endpoint.
    pub endpoint: String,
    _guard: Option<Guard>,
}

static SERVER: OnceLock<Azurite> = OnceLock::new();
static NEXT: AtomicU32 = AtomicU32::new(0);

/// `tests/fixtures/azurite` of the workspace, from the registry crate's tests or the top-level ones.
fn fixture() -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let top = crate_dir.join("tests/fixtures/azurite");
    if top.exists() {
        top
    } else {
        crate_dir.join("../tests/fixtures/azurite")
    }
}

fn start() -> Azurite {
    if let Ok(endpoint) = std::env::var("WHARF_TEST_AZURE") {
        return Azurite {
            endpoint,
            _guard: None,
        };
    }
    let bin = fixture().join("node_modules/.bin/azurite-blob");
    assert!(
        bin.exists(),
        "{} is missing: npm ci in tests/fixtures/azurite (scripts/test.sh does)",
        bin.display()
    );
    let endpoint = |port: u16| format!("http://127.0.0.1:{port}/{ACCOUNT}");
    let (port, guard) = guarded::start(
        "Azurite",
        |port| {
            format!(
                "'{}' --blobHost 127.0.0.1 --blobPort {port} --inMemoryPersistence --silent \
                 --skipApiVersionCheck",
                bin.display()
            )
        },
        |port| {
            // An unsigned request: Azurite answers 403 with its own server header.
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-D", "-", "--max-time", "5"])
                .arg(format!("{}?comp=list", endpoint(port)))
                .output()
                .expect("curl");
            let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
            if head.contains("server: azurite-blob") {
                Probe::Up
            } else if out.status.success() && !head.is_empty() {
                Probe::Other
            } else {
                Probe::NotYet
            }
        },
    );
    Azurite {
        endpoint: endpoint(port),
        _guard: Some(guard),
    }
}

pub fn server() -> &'static Azurite {
    SERVER.get_or_init(start)
}

fn admin(args: &[&str]) -> String {
    let out = Command::new("node")
        .arg(fixture().join("admin.mjs"))
        .arg(&server().endpoint)
        .args(args)
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "admin.mjs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A new, empty container; its name.
pub fn fresh_container() -> String {
    let name = unused_name();
    create_container(&name);
    name
}

/// A container name no test has used in this process (the container is not created).
pub fn unused_name() -> String {
    format!(
        "wharf-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn create_container(name: &str) {
    admin(&["create", name]);
}

/// The names of the blobs under `prefix` in `container`.
pub fn keys(container: &str, prefix: &str) -> Vec<String> {
    admin(&["keys", container, prefix])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Set the `AZURE_*` variables the store reads: Azurite's account, key and
/// endpoint (once per process).
pub fn credentials_env() {
    static SET: OnceLock<()> = OnceLock::new();
    SET.get_or_init(|| {
        // SAFETY: set once, before any test thread reads the environment here.
        unsafe {
            std::env::set_var("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT);
            std::env::set_var("AZURE_STORAGE_ACCOUNT_KEY", KEY);
            std::env::set_var("AZURE_STORAGE_ENDPOINT", &server().endpoint);
            std::env::set_var("AZURE_ALLOW_HTTP", "true");
        }
    });
}
