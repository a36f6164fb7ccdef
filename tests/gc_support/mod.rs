//! What the GC tests share: a small registry client (reqwest, Basic auth)
//! that pushes generated images the way docker does (HEAD each blob, upload
//! what is missing, then the manifest, again from the start when the
//! registry answers MANIFEST_BLOB_UNKNOWN), the management calls GC needs,
//! and a walk of the blob files on disk.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::Digest as _;

pub const ADMIN: (&str, &str) = ("admin", "Harbor12345");
/// `wharf serve` for the GC tests: a 1 s grace period, a 2 s job lease.
pub const SERVE_ARGS: [&str; 6] = [
    "--admin-password",
    ADMIN.1,
    "--gc-grace-period",
    "1",
    "--job-lease",
    "2",
];

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// A blob the test made: its digest and bytes.
#[derive(Clone, Debug)]
pub struct Blob {
    pub digest: String,
    pub data: Vec<u8>,
}

impl Blob {
    pub fn new(data: Vec<u8>) -> Blob {
        Blob {
            digest: sha256(&data),
            data,
        }
    }
}

/// An image manifest over a config and layers, as pushed.
#[derive(Clone, Debug)]
pub struct Image {
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Vec<u8>,
    pub digest: String,
}

impl Image {
    pub fn new(config: Blob, layers: Vec<Blob>) -> Image {
        Image::with_subject(config, layers, None)
    }

    /// An OCI 1.1 referrer (`subject`) when `subject` is given.
    pub fn with_subject(config: Blob, layers: Vec<Blob>, subject: Option<(&str, usize)>) -> Image {
        let desc =
            |b: &Blob, mt: &str| json!({"mediaType": mt, "digest": b.digest, "size": b.data.len()});
        let mut m = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": desc(&config, "application/vnd.oci.image.config.v1+json"),
            "layers": layers.iter().map(|l| desc(l, "application/vnd.oci.image.layer.v1.tar")).collect::<Vec<_>>(),
        });
        if let Some((digest, size)) = subject {
            m["subject"] = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size});
            m["artifactType"] = json!("application/vnd.example.signature");
        }
        let manifest = m.to_string().into_bytes();
        Image {
            digest: sha256(&manifest),
            config,
            layers,
            manifest,
        }
    }

    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        std::iter::once(&self.config).chain(self.layers.iter())
    }
}

/// A client of one registry, as `admin`.
#[derive(Clone)]
pub struct Registry {
    pub base: String,
    http: reqwest::Client,
}

impl Registry {
    pub fn new(host: &str) -> Registry {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Registry {
            base: format!("http://{host}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
        }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
    }

    /// Push an image as docker does; how many times the registry made it start over.
    pub async fn push(&self, repo: &str, tag: &str, image: &Image) -> Result<u32, String> {
        self.push_slowly(repo, tag, image, Duration::ZERO).await
    }

    /// Push, pausing between the blobs and the manifest (a slow client: longer
    /// than GC's grace period, GC may take a blob in between and the registry
    /// answers MANIFEST_BLOB_UNKNOWN; the client starts over, as docker does).
    pub async fn push_slowly(
        &self,
        repo: &str,
        tag: &str,
        image: &Image,
        pause: Duration,
    ) -> Result<u32, String> {
        let mut restarts = 0;
        loop {
            for blob in image.blobs() {
                let head = self
                    .req(
                        reqwest::Method::HEAD,
                        &format!("/v2/{repo}/blobs/{}", blob.digest),
                    )
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if head.status() == 200 {
                    continue;
                }
                let up = self
                    .req(
                        reqwest::Method::POST,
                        &format!("/v2/{repo}/blobs/uploads/?digest={}", blob.digest),
                    )
                    .header("Content-Type", "application/octet-stream")
                    .body(blob.data.clone())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if up.status() != 201 {
                    return Err(format!(
                        "upload {}: {}",
                        blob.digest,
                        up.text().await.unwrap_or_default()
                    ));
                }
            }
            tokio::time::sleep(pause).await;
            let put = self
                .req(reqwest::Method::PUT, &format!("/v2/{repo}/manifests/{tag}"))
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .body(image.manifest.clone())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            match put.status().as_u16() {
                201 => return Ok(restarts),
                400 | 404 => {
                    let text = put.text().await.unwrap_or_default();
                    if !text.contains("MANIFEST_BLOB_UNKNOWN") || restarts > 20 {
                        return Err(format!("manifest {repo}:{tag}: {text}"));
                    }
                    // GC took a blob between our HEAD and the PUT: upload again.
                    restarts += 1;
                }
                s => {
                    return Err(format!(
                        "manifest {repo}:{tag}: {s} {}",
                        put.text().await.unwrap_or_default()
                    ));
                }
            }
        }
    }

    pub async fn delete(&self, path: &str) -> u16 {
        self.req(reqwest::Method::DELETE, path)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.req(reqwest::Method::GET, path).send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn get_text(&self, path: &str) -> (u16, String, String) {
        let r = self.req(reqwest::Method::GET, path).send().await.unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, ct, r.text().await.unwrap())
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.req(method, path).json(body).send().await.unwrap()
    }

    /// Start GC now; the job id (from the 201's Location).
    pub async fn start_gc(&self, params: Value) -> i64 {
        let r = self
            .send_json(
                reqwest::Method::POST,
                "/api/v2.0/system/gc/schedule",
                &json!({"schedule": {"type": "Manual"}, "parameters": params}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        loc.rsplit('/').next().unwrap().parse().unwrap()
    }

    /// The job once it has ended (panics after `limit`).
    pub async fn wait_job(&self, id: i64, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let job = self.get_json(&format!("/api/v2.0/jobs/{id}")).await;
            if matches!(
                job["status"].as_str(),
                Some("Success" | "Error" | "Stopped")
            ) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} did not end: {job}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Run GC to its end; its result.
    pub async fn gc(&self, params: Value) -> Value {
        let id = self.start_gc(params).await;
        let job = self.wait_job(id, Duration::from_secs(300)).await;
        assert_eq!(job["status"], "Success", "{job}");
        job["result"].clone()
    }

    /// Every tag of every repository: (repository, tag) → manifest digest.
    pub async fn all_tags(&self) -> BTreeMap<(String, String), String> {
        let catalog = self.get_json("/v2/_catalog?n=10000").await;
        let mut out = BTreeMap::new();
        for repo in catalog["repositories"].as_array().unwrap() {
            let repo = repo.as_str().unwrap();
            let tags = self
                .get_json(&format!("/v2/{repo}/tags/list?n=10000"))
                .await;
            for tag in tags["tags"].as_array().into_iter().flatten() {
                let tag = tag.as_str().unwrap();
                let r = self
                    .req(
                        reqwest::Method::HEAD,
                        &format!("/v2/{repo}/manifests/{tag}"),
                    )
                    .header("Accept", "application/vnd.oci.image.manifest.v1+json")
                    .send()
                    .await
                    .unwrap();
                if r.status() == 200 {
                    let d = r.headers()["docker-content-digest"]
                        .to_str()
                        .unwrap()
                        .to_string();
                    out.insert((repo.to_string(), tag.to_string()), d);
                }
            }
        }
        out
    }
}

/// Blob files on disk: digest → size; every file re-hashed (a mismatch panics).
pub fn blobs_on_disk(data_dir: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let root = data_dir.join("blobs/sha256");
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return out;
    };
    for dir in dirs {
        for file in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let bytes = std::fs::read(&path).unwrap();
            let digest = format!("sha256:{name}");
            assert_eq!(
                sha256(&bytes),
                digest,
                "corrupt blob file {}",
                path.display()
            );
            out.insert(digest, bytes.len() as u64);
        }
    }
    out
}

/// The digests of a set of images' blobs.
pub fn blob_set<'a>(images: impl IntoIterator<Item = &'a Image>) -> BTreeSet<String> {
    images
        .into_iter()
        .flat_map(|i| i.blobs().map(|b| b.digest.clone()).collect::<Vec<_>>())
        .collect()
}

/// Pseudo-random bytes (xorshift, seeded): reproducible layers without a crate.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
