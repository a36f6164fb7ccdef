//! Helpers shared by the integration tests.
#![allow(dead_code)]

mod fixtures;

#[allow(unused_imports)] // each test uses its own subset
pub use fixtures::{cosign_fixture, read_fixture, read_fixture_bytes, shared_file};

/// A CNCF distribution 2.8 registry (`docker-registry`) on a free loopback port,
/// started through shared/testing/reference-registry.sh and killed on drop.
pub struct RefRegistry {
    pub port: u16,
    pid: u32,
    _dir: tempfile::TempDir,
}

impl RefRegistry {
    pub fn start() -> Self {
        Self::start_with_auth(None)
    }

    /// `auth` = Some("user:password") enables htpasswd basic auth.
    pub fn start_with_auth(auth: Option<&str>) -> Self {
        assert!(
            which("docker-registry"),
            "docker-registry is not installed: apt-get install -y docker-registry apache2-utils curl"
        );
        let script = shared_file(
            "testing/reference-registry.sh",
            "the script that starts the reference registry",
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.path())
            .arg(auth.unwrap_or(""))
            .output()
            .expect("run reference-registry.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "reference registry failed to start: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = stdout
            .lines()
            .find_map(|l| l.strip_prefix("PID="))
            .and_then(|p| p.trim().parse().ok())
            .expect("PID= line from reference-registry.sh");
        Self {
            port,
            pid,
            _dir: dir,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for RefRegistry {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.pid.to_string())
            .status();
    }
}

pub fn which(tool: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Pushes a tiny single-layer OCI image `repo:tag` whose content is derived from `seed`;
/// returns its manifest digest.
pub async fn push_tiny_image(
    reg: &wharf_oci::Client,
    host: &str,
    repo: &str,
    tag: &str,
    seed: &str,
) -> String {
    use wharf_oci::media_types::OCI_MANIFEST;
    use wharf_oci::{Client as Registry, Manifest};
    let r = Registry::parse_reference(&format!("{host}/{repo}:{tag}")).unwrap();
    let layer = reg
        .put_blob(
            &r,
            format!("layer content {seed}").as_bytes(),
            "application/vnd.oci.image.layer.v1.tar",
        )
        .await
        .unwrap();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest]}
    });
    let config = reg
        .put_blob(
            &r,
            config.to_string().as_bytes(),
            "application/vnd.oci.image.config.v1+json",
        )
        .await
        .unwrap();
    let m = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config,
        layers: vec![layer],
        subject: None,
        annotations: None,
    };
    reg.put_manifest(&r, serde_json::to_vec(&m).unwrap(), OCI_MANIFEST)
        .await
        .unwrap()
}

pub fn insecure_registry() -> wharf_oci::Client {
    wharf_oci::Client::new(wharf_oci::RegistryOptions {
        insecure: true,
        ..Default::default()
    })
}
