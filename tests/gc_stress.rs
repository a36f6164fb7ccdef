//! GC under load, the main proof that online GC never deletes a needed blob:
//! several writers push images (sharing layers across repositories), re-push
//! old ones, sign some, delete tags, artifacts and whole repositories, while
//! GC runs again and again with a 1 s grace period (and, in the second test,
//! the server is killed with SIGKILL in the middle of a GC and restarted).
//! Then every remaining tag is pulled in full with skopeo, every blob file is
//! re-hashed, and after a last GC with the writers stopped exactly the blobs
//! the remaining manifests need are left on disk, and that GC freed exactly
//! the bytes the test computes from its own ledger of pushes and deletes.
//!
//! `WHARF_GC_STRESS_ROUNDS=N` multiplies the writers' operations (default 1:
//! about a minute in CI).

mod common;
mod gc_support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::Wharf;
use gc_support::{ADMIN, Blob, Image, Registry, SERVE_ARGS, blobs_on_disk, bytes};
use serde_json::json;
use tokio::sync::RwLock;

const WRITERS: u64 = 4;
const OPS_PER_WRITER: u64 = 300;
const REPOS_PER_WRITER: u64 = 3;
const SHARED_LAYERS: u64 = 12;

fn rounds() -> u64 {
    std::env::var("WHARF_GC_STRESS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// xorshift: reproducible choices per writer.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What one writer's repositories hold, by its own account.
#[derive(Default)]
struct Ledger {
    /// (repo, tag) → image
    tags: BTreeMap<(String, String), Image>,
    /// (repo, subject digest) → referrers pushed for it
    referrers: BTreeMap<(String, String), Vec<Image>>,
    /// Every image ever pushed (for re-pushes).
    pushed: Vec<Image>,
}

impl Ledger {
    /// Images the remaining tags keep alive, with the referrers of those.
    fn live(&self) -> Vec<&Image> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for ((repo, _), img) in &self.tags {
            if seen.insert((repo.clone(), img.digest.clone())) {
                out.push(img);
                if let Some(refs) = self.referrers.get(&(repo.clone(), img.digest.clone())) {
                    out.extend(refs.iter());
                }
            }
        }
        out
    }

    /// A delete by digest takes the manifest's tags; its referrers stay on the
    /// server until GC collects them, and live again if it is pushed back first
    /// (so a re-push pushes them again: the ledger then matches either way).
    fn forget_digest(&mut self, repo: &str, digest: &str) {
        self.tags
            .retain(|(r, _), img| !(r == repo && img.digest == digest));
    }

    fn forget_repo(&mut self, repo: &str) {
        self.tags.retain(|(r, _), _| r != repo);
        self.referrers.retain(|(r, _), _| r != repo);
    }
}

/// The registry the writers talk to: replaced when the server restarts.
type Current = Arc<RwLock<Registry>>;

/// Retry an operation across a server restart (connection refused meanwhile).
async fn patiently<T, F, Fut>(current: &Current, mut op: F) -> T
where
    F: FnMut(Registry) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let reg = current.read().await.clone();
        match op(reg).await {
            Ok(v) => return v,
            Err(e) => {
                assert!(Instant::now() < deadline, "giving up: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn delete(reg: Registry, path: String) -> Result<(), String> {
    match reg.delete(&path).await {
        // 404: a delete applied before a restart cut off its answer.
        200 | 202 | 404 => Ok(()),
        s => Err(format!("DELETE {path}: {s}")),
    }
}

async fn writer(
    id: u64,
    ops: u64,
    current: Current,
    shared: Arc<Vec<Blob>>,
    restarts: Arc<AtomicU32>,
) -> Ledger {
    let mut rng = Rng(0x5eed_0000 + id * 7919);
    let mut ledger = Ledger::default();
    for op in 0..ops {
        let repo = format!("library/w{id}-r{}", rng.below(REPOS_PER_WRITER));
        let choice = rng.below(100);
        if choice < 45 || ledger.pushed.is_empty() {
            // A new image: two shared layers, one of its own, its own config.
            let seed = (id << 32) | op;
            let layers = vec![
                shared[rng.below(SHARED_LAYERS) as usize].clone(),
                shared[rng.below(SHARED_LAYERS) as usize].clone(),
                Blob::new(bytes(seed, 1024 + rng.below(3072) as usize)),
            ];
            let img = Image::new(
                Blob::new(format!(r#"{{"writer":{id},"op":{op}}}"#).into_bytes()),
                layers,
            );
            let tag = format!("t{}", rng.below(5));
            let n = patiently(&current, |reg| {
                let (repo, tag, img) = (repo.clone(), tag.clone(), img.clone());
                async move { reg.push(&repo, &tag, &img).await }
            })
            .await;
            restarts.fetch_add(n, Ordering::Relaxed);
            ledger.tags.insert((repo.clone(), tag), img.clone());
            ledger.pushed.push(img.clone());
            if rng.below(4) == 0 {
                // A signature: an OCI referrer, kept while its subject lives.
                let sig = Image::with_subject(
                    Blob::new(format!(r#"{{"sig":{seed}}}"#).into_bytes()),
                    vec![Blob::new(bytes(seed ^ 0xabc, 300))],
                    Some((img.digest.as_str(), img.manifest.len())),
                );
                patiently(&current, |reg| {
                    let (repo, sig) = (repo.clone(), sig.clone());
                    async move { reg.push(&repo, &sig.digest, &sig).await }
                })
                .await;
                ledger
                    .referrers
                    .entry((repo.clone(), img.digest.clone()))
                    .or_default()
                    .push(sig);
            }
        } else if choice < 65 {
            // Re-push an old image (maybe deleted, maybe collected): HEADs find some blobs.
            let img = ledger.pushed[rng.below(ledger.pushed.len() as u64) as usize].clone();
            let tag = format!("t{}", rng.below(5));
            // One in five is a slow client: longer between HEADs and PUT than the grace period.
            let pause = Duration::from_millis(if rng.below(5) == 0 { 1500 } else { 0 });
            let n = patiently(&current, |reg| {
                let (repo, tag, img) = (repo.clone(), tag.clone(), img.clone());
                async move { reg.push_slowly(&repo, &tag, &img, pause).await }
            })
            .await;
            restarts.fetch_add(n, Ordering::Relaxed);
            for sig in ledger
                .referrers
                .get(&(repo.clone(), img.digest.clone()))
                .cloned()
                .unwrap_or_default()
            {
                patiently(&current, |reg| {
                    let (repo, sig) = (repo.clone(), sig.clone());
                    async move { reg.push(&repo, &sig.digest, &sig).await }
                })
                .await;
            }
            ledger.tags.insert((repo.clone(), tag), img);
        } else if choice < 82 {
            let tag = format!("t{}", rng.below(5));
            if ledger.tags.remove(&(repo.clone(), tag.clone())).is_some() {
                patiently(&current, |reg| {
                    delete(reg, format!("/v2/{repo}/manifests/{tag}"))
                })
                .await;
            }
        } else if choice < 95 {
            let digest = ledger
                .tags
                .iter()
                .find(|((r, _), _)| r == &repo)
                .map(|(_, img)| img.digest.clone());
            if let Some(digest) = digest {
                patiently(&current, |reg| {
                    delete(reg, format!("/v2/{repo}/manifests/{digest}"))
                })
                .await;
                ledger.forget_digest(&repo, &digest);
            }
        } else if ledger.tags.keys().any(|(r, _)| r == &repo) {
            let name = repo.trim_start_matches("library/").to_string();
            patiently(&current, |reg| {
                delete(
                    reg,
                    format!("/api/v2.0/projects/library/repositories/{name}"),
                )
            })
            .await;
            ledger.forget_repo(&repo);
        }
    }
    ledger
}

fn skopeo_pull(host: &str, repo: &str, tag: &str, into: &std::path::Path) {
    let out = Command::new("skopeo")
        .args(["copy", "--quiet", "--src-tls-verify=false", "--src-creds"])
        .arg(format!("{}:{}", ADMIN.0, ADMIN.1))
        .arg(format!("docker://{host}/{repo}:{tag}"))
        .arg(format!("dir:{}", into.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo pull {repo}:{tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stress(kill_mid_gc: bool) {
    common::require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let args = SERVE_ARGS;
    let server = Arc::new(std::sync::Mutex::new(Wharf::start_in(tmp.path(), &args)));
    let host = server.lock().unwrap().host();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let ops = OPS_PER_WRITER * rounds();
    let (ledgers, gc_runs, restarts, host) = rt.block_on(async {
        let current: Current = Arc::new(RwLock::new(Registry::new(&host)));
        let shared: Arc<Vec<Blob>> = Arc::new(
            (0..SHARED_LAYERS)
                .map(|i| Blob::new(bytes(0xfeed + i, 2048 + 512 * i as usize)))
                .collect(),
        );
        let restarts = Arc::new(AtomicU32::new(0));
        let done = Arc::new(AtomicBool::new(false));
        // GC, over and over, while the writers work.
        let gc = {
            let (current, done, server, tmp_path) = (
                current.clone(),
                done.clone(),
                server.clone(),
                tmp.path().to_path_buf(),
            );
            tokio::spawn(async move {
                let mut runs = Vec::new();
                let mut killed = false;
                while !done.load(Ordering::Relaxed) {
                    let reg = current.read().await.clone();
                    let id = reg.start_gc(json!({"delete_untagged": true})).await;
                    if kill_mid_gc && !killed && runs.len() >= 3 {
                        // Wait for this run to be running, then SIGKILL the server and start it again.
                        while reg.get_json(&format!("/api/v2.0/jobs/{id}")).await["status"]
                            == "Pending"
                        {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                        let (server, tmp_path) = (server.clone(), tmp_path.clone());
                        let new_host = tokio::task::spawn_blocking(move || {
                            let mut s = server.lock().unwrap();
                            s.kill9();
                            *s = Wharf::start_in(&tmp_path, &args);
                            s.host()
                        })
                        .await
                        .unwrap();
                        *current.write().await = Registry::new(&new_host);
                        killed = true;
                    }
                    let reg = current.read().await.clone();
                    let job = reg.wait_job(id, Duration::from_secs(120)).await;
                    assert_eq!(job["status"], "Success", "{job}");
                    runs.push(job);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                assert!(
                    !kill_mid_gc || killed,
                    "the server was never killed during a GC"
                );
                runs
            })
        };
        let mut writers = tokio::task::JoinSet::new();
        for id in 0..WRITERS {
            writers.spawn(writer(
                id,
                ops,
                current.clone(),
                shared.clone(),
                restarts.clone(),
            ));
        }
        let mut ledgers = Vec::new();
        while let Some(l) = writers.join_next().await {
            ledgers.push(l.unwrap());
        }
        done.store(true, Ordering::Relaxed);
        let runs = gc.await.unwrap();
        let host = current
            .read()
            .await
            .base
            .trim_start_matches("http://")
            .to_string();
        (ledgers, runs, restarts.load(Ordering::Relaxed), host)
    });
    let busy = started.elapsed();
    let data_dir = server.lock().unwrap().data_dir.clone();
    let reg = Registry::new(&host);

    // The registry holds exactly the tags the writers left.
    let want_tags: BTreeMap<(String, String), String> = ledgers
        .iter()
        .flat_map(|l| {
            l.tags
                .iter()
                .map(|(k, img)| (k.clone(), img.digest.clone()))
        })
        .collect();
    let got_tags = rt.block_on(reg.all_tags());
    assert_eq!(got_tags, want_tags);
    assert!(!want_tags.is_empty());

    // Every remaining tag pulls in full (skopeo checks every digest).
    let pulls = tempfile::tempdir().unwrap();
    for (i, (repo, tag)) in want_tags.keys().enumerate() {
        skopeo_pull(&host, repo, tag, &pulls.path().join(i.to_string()));
    }
    // Every file re-hashes to its name; every blob a live manifest needs is there.
    let live: Vec<&Image> = ledgers.iter().flat_map(|l| l.live()).collect();
    let needed: BTreeMap<String, u64> = live
        .iter()
        .flat_map(|img| img.blobs().map(|b| (b.digest.clone(), b.data.len() as u64)))
        .collect();
    let before = blobs_on_disk(&data_dir);
    for (digest, size) in &needed {
        assert_eq!(
            before.get(digest),
            Some(size),
            "needed blob {digest} is missing"
        );
    }

    // Writers stopped, grace period over: a last GC leaves exactly what is needed
    // and frees exactly the bytes of everything else on disk.
    std::thread::sleep(Duration::from_millis(2100));
    let last = rt.block_on(reg.gc(json!({"delete_untagged": true})));
    let expected_freed: u64 = before
        .iter()
        .filter(|(d, _)| !needed.contains_key(*d))
        .map(|(_, s)| s)
        .sum();
    assert_eq!(last["bytes_freed"], expected_freed, "{last}");
    let after = blobs_on_disk(&data_dir);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        needed.keys().collect::<Vec<_>>(),
        "unreferenced blobs left on disk"
    );
    // Everything ever pushed and no longer needed is gone.
    let pushed: BTreeSet<String> = ledgers
        .iter()
        .flat_map(|l| {
            l.pushed
                .iter()
                .flat_map(|i| i.blobs().map(|b| b.digest.clone()))
        })
        .collect();
    assert!(
        pushed
            .iter()
            .filter(|d| !needed.contains_key(*d))
            .all(|d| !after.contains_key(d))
    );
    for (repo, tag) in want_tags.keys().take(5) {
        skopeo_pull(
            &host,
            repo,
            tag,
            &pulls
                .path()
                .join(format!("after-{}", repo.replace('/', "-") + tag)),
        );
    }
    let freed: u64 = gc_runs
        .iter()
        .map(|j| j["result"]["bytes_freed"].as_u64().unwrap())
        .sum();
    eprintln!(
        "{} writers x {ops} ops, {} GC runs during {:.1}s ({} bytes freed), {} pushes restarted after MANIFEST_BLOB_UNKNOWN, {} tags pulled, {} blobs left",
        WRITERS,
        gc_runs.len(),
        busy.as_secs_f64(),
        freed,
        restarts,
        want_tags.len(),
        after.len()
    );
    assert!(gc_runs.len() >= 3, "GC ran {} times only", gc_runs.len());
    assert!(
        gc_runs
            .iter()
            .any(|j| j["result"]["blobs_deleted"].as_u64() > Some(0)),
        "GC never deleted anything while writers worked"
    );
}

#[test]
fn gc_under_concurrent_pushes_and_deletes_loses_nothing() {
    stress(false);
}

#[test]
fn gc_killed_with_sigkill_mid_run_under_load_loses_nothing() {
    stress(true);
}
