//! Locations of the shared test data. Missing data is a test FAILURE with instructions,
//! never a silent skip.
#![allow(dead_code)]

use std::path::PathBuf;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `$WHARF_TEST_IMAGES`, default `target/test-images` (built by
/// `../shared/testing/make-test-images.sh target/test-images`).
pub fn images() -> PathBuf {
    let p = std::env::var_os("WHARF_TEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/test-images"));
    assert!(
        p.join("oci/pyapp/index.json").is_file() && p.join("oci/debian/index.json").is_file(),
        "test images missing under {}: run ../shared/testing/make-test-images.sh {} (needs umoci, debootstrap, jq) or set WHARF_TEST_IMAGES",
        p.display(),
        p.display()
    );
    p
}

/// `$WHARF_VULNDATA`, else `$WHARF_SHARED/vulndata`, else `../shared/vulndata` next to the workspace.
pub fn vulndata() -> PathBuf {
    let p = std::env::var_os("WHARF_VULNDATA")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("WHARF_SHARED").map(|s| PathBuf::from(s).join("vulndata")))
        .unwrap_or_else(|| workspace().join("../shared/vulndata"));
    assert!(
        p.join("pypa/vulns").is_dir(),
        "advisory data missing at {} (set WHARF_VULNDATA)",
        p.display()
    );
    p
}

pub fn image(name: &str, tag: &str) -> String {
    format!("oci:{}:{tag}", images().join("oci").join(name).display())
}

/// `$WHARF_SHARED`, else `../shared` beside the workspace.
pub fn shared() -> PathBuf {
    std::env::var_os("WHARF_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared"))
}

/// Fails (never skips) when a tool a test needs is missing.
pub fn require(tool: &str) {
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{tool} is not installed: run scripts/test.sh, which installs it"
    );
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The reference registry (Debian's docker-registry, distribution 2.8) on a free port,
/// started by `../shared/testing/reference-registry.sh`; stopped (by its pid) on drop.
pub struct RefRegistry {
    pub port: u16,
    pid: u32,
    _dir: tempfile::TempDir,
}

impl RefRegistry {
    /// `creds` as `user:password` turns on htpasswd basic auth.
    pub fn start(creds: Option<&str>) -> RefRegistry {
        require("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let script = shared().join("testing/reference-registry.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.path())
            .arg(creds.unwrap_or(""))
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let pid = stdout
            .lines()
            .find_map(|l| l.strip_prefix("PID="))
            .unwrap_or_else(|| {
                panic!(
                    "reference registry did not start: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .trim()
            .parse()
            .unwrap();
        RefRegistry {
            port,
            pid,
            _dir: dir,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its log (one line per request, with the request URI).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for RefRegistry {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.pid.to_string())
            .status();
    }
}

/// Copies `oci:LAYOUT:TAG` to `docker://DEST` with skopeo (all platforms of an index).
pub fn skopeo_push(src: &str, dest: &str, creds: Option<&str>) {
    require("skopeo");
    let mut cmd = std::process::Command::new("skopeo");
    cmd.args(["copy", "--all", "--dest-tls-verify=false"]);
    if let Some(c) = creds {
        cmd.args(["--dest-creds", c]);
    }
    let out = cmd
        .arg(src)
        .arg(format!("docker://{dest}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo copy {src} {dest}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
