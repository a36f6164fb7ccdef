//! `wharf dev populate`: fill a registry's data directory with many
//! repositories, tags and manifests, for measuring how the server behaves at
//! scale (`scripts/bench-scale.sh`).
//!
//! The registry's own code writes everything, in-process (only HTTP is
//! skipped), so the result is what clients pushing the same images would have
//! created. Each blob is uploaded once through `Distribution` (monolithic
//! upload: the file, its row, its first repository's link); the rest is
//! written in batches of a few thousand manifests per transaction
//! (`MetadataStore::put_batch`): blob links as mounts write them, manifests as
//! `put_manifest` stores them (taken apart by `prepare_manifest`, as a PUT's
//! are), tags as `put_tags` sets them. One push at a time through the manifest
//! PUT path (`--no-batch`) writes the same rows, about nine times slower past
//! the uploads; tests/populate.rs compares the two table by table. The registry must not be
//! running.
//!
//! The metadata goes where `wharf serve` would put it: SQLite in the data
//! directory, or the PostgreSQL database `--database` names (blobs stay in
//! the data directory either way); the projects are created through the opened
//! registry's own store. On PostgreSQL the fill ends with `VACUUM (ANALYZE)`, so
//! that a server started right after plans from the tables' real sizes.
//!
//! The shape: `--projects` projects of `--repos` repositories in total; each
//! repository holds `manifests / repos` images built from a window of
//! `--configs` configs (each config names its own three layers, out of
//! `--layers`), told apart by an annotation, so layers are shared across
//! images and repositories as real images share base layers. The first
//! repository (`p0/big`) gets `--big-repo-tags` tags (and images in the same
//! proportion as the registry as a whole); the others share the rest evenly.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Args, Subcommand};
use futures_util::StreamExt;
use serde_json::json;
use wharf_registry::config::{Config, Secret};
use wharf_registry::digest::Digest;
use wharf_registry::metadata::{BlobLink, PushBatch};
use wharf_registry::names::{Reference, RepoName};
use wharf_registry::service::Distribution;
use wharf_registry::service::distribution::{PreparedManifest, prepare_manifest};

#[derive(Args, Debug)]
pub struct DevArgs {
    #[command(subcommand)]
    cmd: DevCmd,
}

#[derive(Subcommand, Debug)]
enum DevCmd {
    /// Fill a (stopped) registry's data directory with generated images.
    Populate(PopulateArgs),
}

#[derive(Args, Debug)]
struct PopulateArgs {
    /// The registry's data directory (as `wharf serve --data-dir`): its blobs,
    /// and its metadata unless `--database` is given.
    #[arg(long)]
    data_dir: PathBuf,
    /// Metadata in this PostgreSQL database (postgres://user:password@host:port/db),
    /// as `wharf serve --database`: the registry to fill is then served with the
    /// same `--database` and `--data-dir`.
    #[arg(long, env = "WHARF_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// PEM file of the CA(s) PostgreSQL's certificate must chain to (as `wharf
    /// serve --database-ca-file`).
    #[arg(long, env = "WHARF_DATABASE_CA_FILE")]
    database_ca_file: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    projects: usize,
    #[arg(long, default_value_t = 10_000)]
    repos: usize,
    #[arg(long, default_value_t = 200_000)]
    manifests: usize,
    #[arg(long, default_value_t = 1_000_000)]
    tags: usize,
    /// Tags of the first repository, `p0/big` (included in `--tags`).
    #[arg(long, default_value_t = 100_000)]
    big_repo_tags: usize,
    /// Distinct image configs; each names three layers.
    #[arg(long, default_value_t = 20_000)]
    configs: usize,
    /// Distinct layers, shared by the configs.
    #[arg(long, default_value_t = 2_000)]
    layers: usize,
    /// Blob uploads (and, with `--no-batch`, pushes) in flight at once (they
    /// queue for SQLite's one writer: more only waits longer for it).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Push each image through the manifest PUT path, one at a time, and mount
    /// blobs one by one, as a client would: the same rows as the default
    /// batched writes, several times slower (the reference they are checked
    /// against).
    #[arg(long)]
    no_batch: bool,
    /// Manifests written per transaction (with their blob links and tags).
    #[arg(long, default_value_t = 2_000)]
    batch: usize,
}

const CONFIGS_PER_REPO: usize = 4;

/// A layer: a real tar archive holding one small file, so scanners and
/// `skopeo` see a proper layer.
fn layer_bytes(i: usize) -> Bytes {
    let body = format!("generated layer {i}\n").repeat(16);
    let name = format!("populate/layer-{i}.txt");
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{:011o}\0", body.len()).as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| *b as u32).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(body.as_bytes());
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.resize(out.len() + 1024, 0); // two zero blocks end the archive
    Bytes::from(out)
}

struct Plan {
    layers: Vec<(Digest, Bytes)>,
    /// Config bytes and the indexes of its layers.
    configs: Vec<(Digest, Bytes, [usize; 3])>,
}

impl Plan {
    fn new(configs: usize, layers: usize) -> Plan {
        let layers: Vec<(Digest, Bytes)> = (0..layers)
            .map(|i| {
                let b = layer_bytes(i);
                (Digest::sha256_of(&b), b)
            })
            .collect();
        let n = layers.len();
        let configs = (0..configs)
            .map(|c| {
                let picks = [c % n, (c * 7 + 1) % n, (c * 13 + 5) % n];
                let diff_ids: Vec<String> =
                    picks.iter().map(|&l| layers[l].0.to_string()).collect();
                let body = serde_json::to_vec(&json!({
                    "architecture": "amd64",
                    "os": "linux",
                    "config": { "Labels": { "populate.config": c.to_string() } },
                    "rootfs": { "type": "layers", "diff_ids": diff_ids },
                }))
                .expect("JSON");
                let b = Bytes::from(body);
                (Digest::sha256_of(&b), b, picks)
            })
            .collect();
        Plan { layers, configs }
    }

    fn manifest(&self, config: usize, n: usize) -> Bytes {
        let (cd, cb, picks) = &self.configs[config];
        let layers: Vec<_> = picks
            .iter()
            .map(|&l| {
                json!({
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": self.layers[l].0.to_string(),
                    "size": self.layers[l].1.len(),
                })
            })
            .collect();
        Bytes::from(
            serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": cd.to_string(),
                    "size": cb.len(),
                },
                "layers": layers,
                "annotations": { "org.opencontainers.image.version": n.to_string() },
            }))
            .expect("JSON"),
        )
    }
}

/// What one repository receives: its name, its configs, its images and tags.
struct RepoJob {
    repo: RepoName,
    configs: Vec<usize>,
    /// Global image numbers (annotation values) of this repository's images.
    images: std::ops::Range<usize>,
    tags: usize,
}

fn split(total: usize, parts: usize, i: usize) -> usize {
    total / parts + usize::from(i < total % parts)
}

fn jobs(a: &PopulateArgs) -> anyhow::Result<Vec<RepoJob>> {
    if a.repos == 0 || a.projects == 0 || a.configs == 0 || a.layers == 0 {
        bail!("--repos, --projects, --configs and --layers must be at least 1");
    }
    if a.manifests < a.repos {
        bail!("--manifests must be at least --repos (every repository holds an image)");
    }
    if a.tags < a.manifests || a.big_repo_tags > a.tags {
        bail!("--tags must be at least --manifests and at least --big-repo-tags");
    }
    let mut out = Vec::with_capacity(a.repos);
    let mut image = 0;
    // p0/big has as many tags per image as the registry as a whole (the rest of
    // its manifests and tags are spread evenly over the other repositories).
    let (big_images, big_tags) = if a.repos == 1 {
        (a.manifests, a.tags)
    } else {
        let share = (a.manifests as u128 * a.big_repo_tags as u128 / a.tags as u128) as usize;
        let images = share.clamp(1, a.manifests - (a.repos - 1));
        (images, a.big_repo_tags.max(images))
    };
    for r in 0..a.repos {
        let (name, images, tags) = if r == 0 {
            ("p0/big".to_string(), big_images, big_tags)
        } else {
            let images = split(a.manifests - big_images, a.repos - 1, r - 1);
            let tags = split(a.tags.saturating_sub(big_tags), a.repos - 1, r - 1).max(images);
            (format!("p{}/repo{r}", r % a.projects), images, tags)
        };
        out.push(RepoJob {
            repo: RepoName::parse(&name).context("repository name")?,
            configs: (0..CONFIGS_PER_REPO.min(images))
                .map(|k| (r * CONFIGS_PER_REPO + k) % a.configs)
                .collect(),
            images: image..image + images,
            tags,
        });
        image += images;
    }
    Ok(out)
}

/// The blobs a repository's images use (their configs and layers), each once.
fn repo_blobs<'p>(plan: &'p Plan, job: &RepoJob) -> Vec<(&'p Digest, &'p Bytes)> {
    let mut blobs: Vec<(&Digest, &Bytes)> = Vec::new();
    for &c in &job.configs {
        let (cd, cb, picks) = &plan.configs[c];
        blobs.push((cd, cb));
        blobs.extend(
            picks
                .iter()
                .map(|&l| (&plan.layers[l].0, &plan.layers[l].1)),
        );
    }
    blobs.sort_by(|a, b| a.0.cmp(b.0));
    blobs.dedup_by(|a, b| a.0 == b.0);
    blobs
}

/// The media type of every generated manifest.
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// Push one repository (`--no-batch`): its blobs (uploaded where first used, mounted
/// elsewhere), then its images, each under its tags.
async fn push_repo(
    dist: &Distribution,
    plan: &Plan,
    job: &RepoJob,
    origin: &tokio::sync::Mutex<HashMap<Digest, RepoName>>,
) -> anyhow::Result<()> {
    for (digest, bytes) in repo_blobs(plan, job) {
        let from = {
            let mut seen = origin.lock().await;
            match seen.get(digest) {
                Some(from) => Some(from.clone()),
                None => {
                    seen.insert(digest.clone(), job.repo.clone());
                    None
                }
            }
        };
        // The first repository to use a blob uploads it (under the lock's
        // promise); others mount it from there, as clients do.
        let mounted = match &from {
            Some(from) => loop {
                match dist.mount_blob(&job.repo, digest, Some(from), None).await? {
                    wharf_registry::service::MountOutcome::Mounted(_) => break true,
                    wharf_registry::service::MountOutcome::Started(up) => {
                        // Not uploaded there yet: drop the session, wait, retry.
                        dist.cancel_upload(&job.repo, &up.id).await?;
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                }
            },
            None => false,
        };
        if !mounted {
            let body = futures_util::stream::once({
                let b = bytes.clone();
                async move { Ok(b) }
            })
            .boxed();
            dist.upload_monolithic(&job.repo, digest, body, Some(bytes.len() as u64), None)
                .await?;
        }
    }
    let images = job.images.len();
    // This image's tags: every images-th tag of the repository's, so tags and
    // images interleave in name order as they do in real repositories. The
    // first tag is a manifest PUT; the others are what re-pushing the same
    // manifest under another tag leaves behind (a tag row for the digest),
    // written TAG_BATCH at a time in one transaction each instead of a whole
    // manifest acceptance (or a commit) per tag.
    let mut more: Vec<(String, Digest)> = Vec::new();
    for (k, n) in job.images.clone().enumerate() {
        let config = job.configs[k % job.configs.len()];
        let body = plan.manifest(config, n);
        let digest = dist
            .put_manifest(
                &job.repo,
                &Reference::Tag(format!("t{k:07}")),
                Some(MANIFEST_TYPE),
                body,
            )
            .await?
            .digest;
        let mut t = k + images;
        while t < job.tags {
            more.push((format!("t{t:07}"), digest.clone()));
            t += images;
        }
        if more.len() >= TAG_BATCH {
            put_tags(dist, &job.repo, &mut more).await?;
        }
    }
    put_tags(dist, &job.repo, &mut more).await?;
    Ok(())
}

/// Tags written per transaction.
const TAG_BATCH: usize = 10_000;

/// Write (and empty) `tags`: every one names a manifest just pushed.
async fn put_tags(
    dist: &Distribution,
    repo: &RepoName,
    tags: &mut Vec<(String, Digest)>,
) -> anyhow::Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let set = dist.meta().put_tags(repo, tags).await?;
    if set != tags.len() as u64 {
        bail!("tagging in {repo}: {set} of {} tags set", tags.len());
    }
    tags.clear();
    Ok(())
}

async fn populate(a: PopulateArgs) -> anyhow::Result<()> {
    let jobs = jobs(&a)?;
    let tags: usize = jobs.iter().map(|j| j.tags).sum();
    let started = Instant::now();
    let config = Config {
        data_dir: a.data_dir.clone(),
        database: a.database.clone().map(Secret),
        database_ca_file: a.database_ca_file.clone(),
        auth: Some(false),
        ..Config::default()
    };
    // Opened, not started: no background work (scans, webhooks, GC) runs while
    // it fills.
    let services = wharf_registry::server::open_registry(&config).await?;
    // Ownerless, as a replication creates them: nobody is a member, the
    // administrator sees them all. (Already there when filling again.)
    let identity = services.identity.store();
    for p in 0..a.projects.min(a.repos) {
        identity
            .create_project(&format!("p{p}"), true, None)
            .await?;
    }
    let plan = Arc::new(Plan::new(a.configs, a.layers));
    let dist = services.distribution.clone();
    if a.no_batch {
        push_one_by_one(&dist, &plan, jobs, a.concurrency, started).await?;
    } else {
        push_batched(&dist, &plan, jobs, a.concurrency, a.batch.max(1), started).await?;
    }
    // A server started right after would otherwise plan its first minutes on
    // PostgreSQL from an empty table's statistics (autovacuum catches up later).
    let vacuumed = Instant::now();
    dist.meta().after_bulk_load().await?;
    if a.database.is_some() {
        eprintln!(
            "vacuumed and analyzed in {:.1} s",
            vacuumed.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "populated {} in {:.0} s: {} repositories, {} manifests, {} tags",
        a.data_dir.display(),
        started.elapsed().as_secs_f64(),
        a.repos,
        a.manifests,
        tags
    );
    Ok(())
}

/// `--no-batch`: every repository pushed as a client would, `concurrency` at once.
async fn push_one_by_one(
    dist: &Arc<Distribution>,
    plan: &Arc<Plan>,
    jobs: Vec<RepoJob>,
    concurrency: usize,
    started: Instant,
) -> anyhow::Result<()> {
    let origin = Arc::new(tokio::sync::Mutex::new(HashMap::new()));
    let total = jobs.len();
    let mut done = 0usize;
    let mut pushes = futures_util::stream::iter(jobs.into_iter().map(|job| {
        let dist = dist.clone();
        let plan = plan.clone();
        let origin = origin.clone();
        async move {
            push_repo(&dist, &plan, &job, &origin)
                .await
                .with_context(|| format!("pushing {}", job.repo))
        }
    }))
    .buffer_unordered(concurrency.max(1));
    while let Some(r) = pushes.next().await {
        r?;
        done += 1;
        if done.is_multiple_of(500) || done == total {
            eprintln!(
                "{done}/{total} repositories ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// One transaction's worth, owned (the generator builds it on its own thread
/// while the previous one is written); repositories by their job's index.
#[derive(Default)]
struct Batch {
    links: Vec<(usize, Digest, u64)>,
    /// The manifest and the tag it is pushed by.
    manifests: Vec<(usize, PreparedManifest, String)>,
    /// Further tags of manifests in this batch.
    tags: Vec<(usize, Vec<(String, Digest)>)>,
    tag_count: usize,
    /// Repositories whose last image is in this batch.
    repos_done: usize,
}

/// Each blob uploaded once, to the first repository using it (the upload
/// path: file, row, link); then everything else in batches: the other
/// repositories' links to those blobs, the images pushed by their first tag,
/// and their other tags.
async fn push_batched(
    dist: &Arc<Distribution>,
    plan: &Arc<Plan>,
    jobs: Vec<RepoJob>,
    concurrency: usize,
    batch: usize,
    started: Instant,
) -> anyhow::Result<()> {
    let mut first: HashMap<Digest, usize> = HashMap::new();
    let mut uploads = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        for (digest, bytes) in repo_blobs(plan, job) {
            first.entry(digest.clone()).or_insert_with(|| {
                uploads.push((i, digest.clone(), bytes.clone()));
                i
            });
        }
    }
    let repos: Arc<Vec<RepoName>> = Arc::new(jobs.iter().map(|j| j.repo.clone()).collect());
    let blobs = uploads.len();
    let mut uploaded = futures_util::stream::iter(uploads.into_iter().map(|(i, digest, bytes)| {
        let dist = dist.clone();
        let repo = &repos[i];
        async move {
            let len = bytes.len() as u64;
            let body = futures_util::stream::once(async move { Ok(bytes) }).boxed();
            dist.upload_monolithic(repo, &digest, body, Some(len), None)
                .await
                .with_context(|| format!("uploading {digest} to {repo}"))
        }
    }))
    .buffer_unordered(concurrency.max(1));
    while let Some(r) = uploaded.next().await {
        r?;
    }
    drop(uploaded);
    eprintln!(
        "{blobs} blobs uploaded ({:.0} s)",
        started.elapsed().as_secs_f64()
    );

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(2);
    let generator = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || generate(&plan, &jobs, &first, batch, &tx))
    };
    let total = repos.len();
    let (mut done, mut manifests, mut tags) = (0usize, 0usize, 0usize);
    while let Some(b) = rx.recv().await {
        let Batch {
            links,
            manifests: images,
            tags: more,
            tag_count,
            repos_done,
        } = b;
        let batch = PushBatch {
            links: links
                .iter()
                .map(|(i, digest, size)| BlobLink {
                    repo: &repos[*i],
                    digest,
                    size: *size,
                })
                .collect(),
            manifests: images
                .iter()
                .map(|(i, m, tag)| m.row(&repos[*i], Some(tag)))
                .collect(),
            tags: more.into_iter().map(|(i, t)| (&repos[i], t)).collect(),
        };
        let set = dist.meta().put_batch(&batch).await?;
        if set != tag_count as u64 {
            bail!("tagging: {set} of {tag_count} tags set");
        }
        let before = (done, manifests);
        done += repos_done;
        manifests += images.len();
        tags += images.len() + tag_count;
        if done / 500 != before.0 / 500 || manifests / 20_000 != before.1 / 20_000 || done == total
        {
            eprintln!(
                "{done}/{total} repositories, {manifests} manifests, {tags} tags ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    generator.await.context("the generator stopped")?
}

/// Build the batches (on a thread of its own: JSON, digests) and hand them to
/// the writer; stops early if the writer did.
fn generate(
    plan: &Plan,
    jobs: &[RepoJob],
    first: &HashMap<Digest, usize>,
    size: usize,
    out: &tokio::sync::mpsc::Sender<Batch>,
) -> anyhow::Result<()> {
    let mut batch = Batch::default();
    for (i, job) in jobs.iter().enumerate() {
        for (digest, bytes) in repo_blobs(plan, job) {
            if first.get(digest) != Some(&i) {
                batch.links.push((i, digest.clone(), bytes.len() as u64));
            }
        }
        let images = job.images.len();
        for (k, n) in job.images.clone().enumerate() {
            let config = job.configs[k % job.configs.len()];
            let tag = format!("t{k:07}");
            let m = prepare_manifest(
                &Reference::Tag(tag.clone()),
                Some(MANIFEST_TYPE),
                plan.manifest(config, n),
            )?;
            // Its other tags, interleaved with the other images' as in `push_repo`.
            let more: Vec<(String, Digest)> = (k + images..job.tags)
                .step_by(images)
                .map(|t| (format!("t{t:07}"), m.digest.clone()))
                .collect();
            batch.tag_count += more.len();
            match batch.tags.last_mut() {
                Some((j, list)) if *j == i => list.extend(more),
                _ => batch.tags.push((i, more)),
            }
            batch.manifests.push((i, m, tag));
            let last = k + 1 == images;
            if last {
                batch.repos_done += 1;
            }
            if (batch.manifests.len() >= size || batch.tag_count >= TAG_BATCH)
                && out.blocking_send(std::mem::take(&mut batch)).is_err()
            {
                return Ok(()); // the writer failed: it reports why
            }
        }
    }
    if !batch.manifests.is_empty() {
        let _ = out.blocking_send(batch);
    }
    Ok(())
}

pub fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    match args.cmd {
        DevCmd::Populate(a) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(populate(a))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
