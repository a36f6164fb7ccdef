//! PostgreSQL metadata: the SQLite store's twin (`sqlite.rs`), method for
//! method in the same order, for several `wharf serve` processes sharing one
//! database. One pool serves reads and writes (PostgreSQL runs writers side by
//! side); `read` and `write` name the same pool so that each query reads as
//! its SQLite twin. Where SQLite relied on its single writer, a statement here
//! takes the row lock it needs (noted where it happens).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};

use super::identity::PageReq;
use super::sqlite::{add_cosign_accessory, digest_list, paged, parse_digest, stored_manifest};
use super::{
    Artifact, MetadataError, MetadataStore, NewManifest, Pull, PushBatch, Referrer, RepoSummary,
    Result, StoredManifest, Upload, now,
};
use crate::digest::Digest;
use crate::names::RepoName;

/// The PostgreSQL schema (one set, `migrations/postgres`), embedded.
pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How to reach the database, beside its URL (which carries the user, the
/// password, `sslmode` and the other libpq parameters).
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The pool's size: at most this many connections from this process.
    pub max_connections: u32,
    /// CA certificates (PEM) that sign the server's certificate, for `sslmode`
    /// `verify-ca`/`verify-full` with a private CA; otherwise the web PKI roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            ca_file: None,
        }
    }
}

pub struct PgMetadata {
    pub(super) read: PgPool,
    pub(super) write: PgPool,
}

impl PgMetadata {
    /// Connect and apply the migrations the database lacks (under
    /// PostgreSQL's advisory lock: replicas starting together migrate once).
    pub async fn connect(url: &str, options: &PgOptions) -> Result<Self> {
        let mut connect = PgConnectOptions::from_str(url)?;
        if let Some(ca) = &options.ca_file {
            connect = connect.ssl_root_cert(ca);
        }
        let target = format!(
            "{}:{}/{}",
            connect.get_host(),
            connect.get_port(),
            connect.get_database().unwrap_or_default()
        );
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect)
            .await
            .map_err(|e| MetadataError::Connect {
                target,
                reason: connect_failure(&e),
            })?;
        MIGRATOR.run(&pool).await?;
        Ok(PgMetadata {
            read: pool.clone(),
            write: pool,
        })
    }
}

/// Why connecting failed, in the terms of the URL's parameters: the innermost
/// cause, and for the TLS failures an operator meets (a CA that did not sign
/// the server's certificate, a certificate for another host, a server without
/// TLS) which setting to look at.
fn connect_failure(e: &sqlx::Error) -> String {
    use rustls::CertificateError as Cert;
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        // An I/O error's `source` skips the error it wraps: look inside it too.
        let wrapped = next
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &dyn std::error::Error);
        let tls = next
            .downcast_ref::<rustls::Error>()
            .or_else(|| wrapped.and_then(|w| w.downcast_ref::<rustls::Error>()));
        if let Some(tls) = tls {
            let hint = match tls {
                rustls::Error::InvalidCertificate(Cert::UnknownIssuer) => {
                    " (the server's certificate is not signed by a CA in sslrootcert or --database-ca-file)"
                }
                rustls::Error::InvalidCertificate(
                    Cert::NotValidForName | Cert::NotValidForNameContext { .. },
                ) => " (sslmode=verify-full: the certificate does not name the URL's host)",
                _ => "",
            };
            return format!("TLS: {tls}{hint}");
        }
        cause = next;
    }
    match e {
        sqlx::Error::Tls(_) => format!(
            "TLS: {cause} (sslmode=require, verify-ca and verify-full need ssl=on on the server)"
        ),
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            format!("{cause} (a file named by sslrootcert, sslcert, sslkey or --database-ca-file)")
        }
        _ => cause.to_string(),
    }
}

/// The advisory lock that stands for SQLite's single writer between garbage
/// collection and pushes: a push (manifest or blob link) holds it shared until
/// its commit, GC's mark and sweep hold it exclusively, so GC never decides on
/// a snapshot that misses a push committing beside it. Pushes still run side by
/// side. Transaction-scoped: a crashed process releases it.
pub(super) async fn gc_lock(conn: &mut PgConnection, exclusive: bool) -> Result<()> {
    const GC_LOCK: i64 = 0x7768_6172_665f_6763; // "wharf_gc"
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock($1)"
    } else {
        "SELECT pg_advisory_xact_lock_shared($1)"
    };
    sqlx::query(sql).bind(GC_LOCK).execute(&mut *conn).await?;
    Ok(())
}

/// The repository's id, creating its row on first use. A new repository
/// belongs to the project its first segment names, if that project exists
/// (otherwise creating the project later adopts it).
async fn ensure_repository(conn: &mut PgConnection, repo: &RepoName, now: i64) -> Result<i64> {
    sqlx::query(
        "INSERT INTO repositories (name, project_id, created_at)
         VALUES ($1, (SELECT id FROM projects WHERE name = $2), $3)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(repo.as_str())
    .bind(super::project_segment(repo))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT id FROM repositories WHERE name = $1")
            .bind(repo.as_str())
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Record a use of a blob: create its row if new, else move `last_used_at` to
/// `now`. False, changing nothing, while garbage collection is deleting it.
async fn use_blob<'c, E>(exec: E, digest: &Digest, size: u64, now: i64) -> Result<bool>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let done = sqlx::query(
        "INSERT INTO blobs (digest, size, created_at, last_used_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (digest) DO UPDATE SET last_used_at = excluded.last_used_at
         WHERE blobs.deleting = 0",
    )
    .bind(digest.to_string())
    .bind(size as i64)
    .bind(now)
    .execute(exec)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The first of `blobs` the repository may not serve (unlinked, or being
/// deleted) or of `children` it does not hold.
async fn missing_reference(
    conn: &mut PgConnection,
    repo_id: i64,
    blobs: &[Digest],
    children: &[Digest],
) -> Result<Option<Digest>> {
    let missing: Option<String> = sqlx::query_scalar(
        "SELECT w.value FROM jsonb_array_elements_text($1::jsonb) AS w(value)
          WHERE NOT EXISTS (SELECT 1 FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
                             WHERE rb.repository_id = $3 AND rb.digest = w.value AND b.deleting = 0)
         UNION ALL
         SELECT w.value FROM jsonb_array_elements_text($2::jsonb) AS w(value)
          WHERE NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = $3 AND m.digest = w.value)
         LIMIT 1",
    )
    .bind(digest_list(blobs))
    .bind(digest_list(children))
    .bind(repo_id)
    .fetch_optional(&mut *conn)
    .await?;
    missing.map(|d| parse_digest(&d)).transpose()
}

/// `ensure_repository`, asked once per repository within a batch.
async fn cached_repository<'r>(
    conn: &mut PgConnection,
    ids: &mut HashMap<&'r str, i64>,
    repo: &'r RepoName,
    now: i64,
) -> Result<i64> {
    if let Some(&id) = ids.get(repo.as_str()) {
        return Ok(id);
    }
    let id = ensure_repository(conn, repo, now).await?;
    ids.insert(repo.as_str(), id);
    Ok(id)
}

/// Let the repository serve a blob whose row `use_blob` just wrote.
async fn insert_link(
    conn: &mut PgConnection,
    repo_id: i64,
    digest: &Digest,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(repo_id)
    .bind(digest.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A manifest's rows (itself, its references, its tag), its references
/// already checked by the caller.
async fn store_manifest(
    conn: &mut PgConnection,
    repo_id: i64,
    m: &NewManifest<'_>,
    now: i64,
) -> Result<()> {
    // Same digest pushed again: the content is identical by definition, keep
    // the row; it counts as used now (GC's grace period starts again).
    sqlx::query(
            "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject, annotations, size, content, created_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
             ON CONFLICT (repository_id, digest) DO UPDATE SET last_used_at = excluded.last_used_at",
        )
        .bind(repo_id)
        .bind(m.digest.to_string())
        .bind(m.media_type)
        .bind(m.artifact_type)
        .bind(m.subject.map(|s| s.to_string()))
        .bind(m.annotations.as_deref())
        .bind(m.content.len() as i64)
        .bind(m.content)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let manifest_id: i64 =
        sqlx::query_scalar("SELECT id FROM manifests WHERE repository_id = $1 AND digest = $2")
            .bind(repo_id)
            .bind(m.digest.to_string())
            .fetch_one(&mut *conn)
            .await?;
    for (kind, list) in [("blob", &m.blobs), ("manifest", &m.children)] {
        if list.is_empty() {
            continue;
        }
        sqlx::query(
            "INSERT INTO manifest_references (manifest_id, kind, digest)
                 SELECT $1, $2, value FROM jsonb_array_elements_text($3::jsonb) WHERE true
                 ON CONFLICT DO NOTHING",
        )
        .bind(manifest_id)
        .bind(kind)
        .bind(digest_list(list))
        .execute(&mut *conn)
        .await?;
    }
    if let Some(tag) = m.tag {
        sqlx::query(
                "INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at",
            )
            .bind(repo_id)
            .bind(tag)
            .bind(manifest_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Tags on manifests the repository holds (`put_tags`).
async fn insert_tags<'c, E>(
    exec: E,
    repo: &RepoName,
    tags: &[(String, Digest)],
    now: i64,
) -> Result<u64>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let (names, digests) = super::tag_columns(tags);
    let done = sqlx::query(
        "INSERT INTO tags (repository_id, name, manifest_id, updated_at)
         SELECT m.repository_id, t.name, m.id, $1
           FROM unnest($2::text[], $3::text[]) AS t(name, digest)
           JOIN manifests m ON m.digest = t.digest
            AND m.repository_id = (SELECT id FROM repositories WHERE name = $4)
         ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at",
    )
    .bind(now)
    .bind(&names)
    .bind(&digests)
    .bind(repo.as_str())
    .execute(exec)
    .await?;
    Ok(done.rows_affected())
}

/// The manifests of repository `$1` whose digests the JSON array `$2` lists
/// (as `m`), found digest by digest through the unique key: a FROM clause.
///
/// Written as `m.repository_id = (…) AND m.digest IN (…)`, PostgreSQL plans for
/// the average repository (the id is unknown when it plans) and, for a
/// repository holding most manifests, read all of them and hashed the list
/// (17 ms for a page of ten in one of 19,000). `LIMIT 1` (the key is unique)
/// keeps the subquery from being merged into the join, so each digest is one
/// index probe whatever the repository's size.
macro_rules! listed_manifests {
    () => {
        "(SELECT DISTINCT value FROM jsonb_array_elements_text($2::jsonb)) AS w(digest)
         CROSS JOIN LATERAL (SELECT * FROM manifests x
             WHERE x.repository_id = (SELECT id FROM repositories WHERE name = $1)
               AND x.digest = w.digest LIMIT 1) m"
    };
}

/// The columns of an artifact page's manifests (as `m`), for `with_details`.
const PAGE_COLUMNS: &str = "m.id, m.repository_id, m.digest, m.media_type, m.artifact_type, m.size, m.blob_size, m.created_at, m.pulled_at, m.pull_count";

/// A page of artifacts and everything shown with them, in one statement.
/// `page` selects `PAGE_COLUMNS` of the page's manifests (its own parameters
/// from `$2`, the repository's name is `$1`); each part is a subquery of its
/// own, returned as JSON text (`json`, not `jsonb`: the text is all that is
/// wanted, and building `jsonb` first cost 0.045 ms of the statement's 0.32).
/// One round trip per page: the page, then its details, were two, and five
/// statements were once most of an artifact page's cost on PostgreSQL
/// (docs/design.md, "One node at scale on PostgreSQL").
///
/// - `sizes`: Harbor's artifact size, the manifest's bytes plus the blobs it
///   references (config, layers: the `blob_size` migration 0013 keeps) plus,
///   for an index, the same sum for every child, recursively. Digests are
///   content hashes, so the manifest graph has no cycles and the recursion
///   ends; each step probes `manifest_children` (migration 0010).
/// - `tags`: from the page's manifests to their tags (`tags_by_manifest`),
///   never across the repository's tags.
/// - `accessories`: referrers of the page's manifests (`manifests_by_subject`).
/// - `cosign`: cosign's `sha256-<hex>.sig|.att|.sbom` tags naming them, one
///   range of the tag key per manifest (the three names sort together, after
///   `sha256-<hex>.` and before `sha256-<hex>/`; `COLLATE "C"` as the column's,
///   or the bounds could not use its index). Written as `t.name IN (…)`,
///   PostgreSQL hashed every tag of the repository (132 ms in one of 100,000
///   tags); `LIMIT` keeps each probe a subquery of its own.
/// - `artifact_count`: the count the triggers of migration 0009 keep.
fn with_details(page: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE
  page AS MATERIALIZED ({page}),
  tree(root, id, repository_id, total) AS (
    SELECT p.id, p.id, p.repository_id, p.size + p.blob_size FROM page p
    UNION ALL
    SELECT t.root, c.id, c.repository_id, c.size + c.blob_size FROM tree t
      JOIN manifest_references mr ON mr.manifest_id = t.id AND mr.kind = 'manifest'
      JOIN manifests c ON c.repository_id = t.repository_id AND c.digest = mr.digest
  )
SELECT
  (SELECT coalesce(json_agg(json_build_array(p.id, p.digest, p.media_type, p.artifact_type,
                                             p.created_at, p.pulled_at, p.pull_count)
                            ORDER BY p.created_at DESC, p.digest), '[]') FROM page p)::text AS page,
  (SELECT coalesce(json_agg(json_build_array(s.root, s.total)), '[]')
     FROM (SELECT root, sum(total)::BIGINT AS total FROM tree GROUP BY root) s)::text AS sizes,
  (SELECT coalesce(json_agg(json_build_array(t.manifest_id, t.name, t.updated_at) ORDER BY t.name), '[]')
     FROM tags t WHERE t.manifest_id = ANY(ARRAY(SELECT id FROM page)))::text AS tags,
  (SELECT coalesce(json_agg(json_build_array(m.subject, m.digest, m.media_type, m.size, m.artifact_type, m.annotations)
                            ORDER BY m.created_at, m.digest), '[]')
     FROM manifests m
     WHERE m.repository_id = (SELECT id FROM repositories WHERE name = $1)
       AND m.subject IS NOT NULL AND m.subject = ANY(ARRAY(SELECT digest FROM page)))::text AS accessories,
  (SELECT coalesce(json_agg(json_build_array(t.name, m.digest, m.media_type, m.size, m.artifact_type, m.annotations)
                            ORDER BY t.name), '[]')
     FROM (SELECT DISTINCT repository_id, 'sha256-' || split_part(digest, ':', 2) FROM page) AS w(repository_id, base)
     CROSS JOIN LATERAL (SELECT * FROM tags x
         WHERE x.repository_id = w.repository_id
           AND x.name > (w.base || '.') COLLATE \"C\" AND x.name < (w.base || '/') COLLATE \"C\"
           AND x.name IN (w.base || '.sig', w.base || '.att', w.base || '.sbom') LIMIT 3) t
     JOIN manifests m ON m.id = t.manifest_id)::text AS cosign,
  (SELECT artifact_count FROM repositories WHERE name = $1) AS artifact_count"
    ))
}

/// A manifest of the page as `with_details` lists it: id, digest, media type,
/// artifact type, pushed, last pulled, pulls. Its size comes with `sizes`.
type PageRow = (i64, String, String, Option<String>, i64, Option<i64>, i64);

/// A referrer as `with_details` lists it: what it refers to (a subject's
/// digest or a cosign tag), then its digest, media type, size, artifact type and
/// annotations (JSON text).
type ReferrerRow = (String, String, String, i64, Option<String>, Option<String>);

fn referrer_of(r: ReferrerRow) -> Result<(String, Referrer)> {
    let (of, digest, media_type, size, artifact_type, annotations) = r;
    Ok((
        of,
        Referrer {
            digest: parse_digest(&digest)?,
            media_type,
            size: size as u64,
            artifact_type,
            annotations: annotations.and_then(|a| serde_json::from_str(&a).ok()),
        },
    ))
}

fn details_part<T: serde::de::DeserializeOwned>(row: &PgRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text)
        .map_err(|e| MetadataError::Corrupt(format!("artifact details ({column}): {e}")))
}

/// The artifacts of a `with_details` row, in page order, and the repository's
/// kept artifact count (`None` if it has no row).
fn artifacts_of(row: &PgRow) -> Result<(Vec<Artifact>, Option<i64>)> {
    let page = details_part::<Vec<PageRow>>(row, "page")?;
    let ids: Vec<i64> = page.iter().map(|p| p.0).collect();
    let mut artifacts = page
        .into_iter()
        .map(
            |(_, digest, media_type, artifact_type, pushed_at, pulled_at, pull_count)| {
                Ok(Artifact {
                    digest: parse_digest(&digest)?,
                    media_type,
                    artifact_type,
                    size: 0,
                    pushed_at,
                    pulled_at,
                    pull_count,
                    tags: Vec::new(),
                    accessories: Vec::new(),
                    cosign_accessories: Vec::new(),
                })
            },
        )
        .collect::<Result<Vec<_>>>()?;
    // `ids[i]` is the manifest of `artifacts[i]`.
    let by_id = |id: i64| ids.iter().position(|&x| x == id);
    for (id, total) in details_part::<Vec<(i64, i64)>>(row, "sizes")? {
        if let Some(i) = by_id(id) {
            artifacts[i].size = total as u64;
        }
    }
    for (id, tag, at) in details_part::<Vec<(i64, String, i64)>>(row, "tags")? {
        if let Some(i) = by_id(id) {
            artifacts[i].tags.push((tag, at));
        }
    }
    for r in details_part::<Vec<ReferrerRow>>(row, "accessories")? {
        let (subject, referrer) = referrer_of(r)?;
        let subject = parse_digest(&subject)?;
        if let Some(a) = artifacts.iter_mut().find(|a| a.digest == subject) {
            a.accessories.push(referrer);
        }
    }
    for r in details_part::<Vec<ReferrerRow>>(row, "cosign")? {
        let (tag, referrer) = referrer_of(r)?;
        add_cosign_accessory(&mut artifacts, tag, referrer);
    }
    Ok((artifacts, row.try_get("artifact_count")?))
}

#[async_trait]
impl MetadataStore for PgMetadata {
    async fn repository_exists(&self, repo: &RepoName) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM repositories WHERE name = $1")
            .bind(repo.as_str())
            .fetch_optional(&self.read)
            .await?;
        Ok(row.is_some())
    }

    async fn list_repositories(&self, after: Option<&str>, limit: u32) -> Result<Vec<String>> {
        // The page size is in the statement's text, not a parameter. With `LIMIT $2`
        // PostgreSQL costs the generic plan as reading a tenth of the table, so on a
        // large registry it planned every execution afresh: a catalog page of 10,000
        // repositories ran at 0.80 of a small registry's rate, and at 0.97-1.01 with
        // the generic plan (docs/design.md). With a constant it keeps the generic
        // plan; clients use a few page sizes, each one statement in the
        // connection's cache.
        let sql =
            format!("SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT {limit}");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)) // `limit` is a number
            .bind(after.unwrap_or(""))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("name")?)).collect()
    }

    async fn repo_blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<Option<u64>> {
        let row = sqlx::query(
            "SELECT b.size FROM repository_blobs rb
             JOIN repositories r ON r.id = rb.repository_id
             JOIN blobs b ON b.digest = rb.digest
             WHERE r.name = $1 AND rb.digest = $2 AND b.deleting = 0",
        )
        .bind(repo.as_str())
        .bind(digest.to_string())
        .fetch_optional(&self.read)
        .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("size"))
            .transpose()?
            .map(|s| s as u64))
    }

    async fn repo_blob_sizes(
        &self,
        repo: &RepoName,
        digests: &[Digest],
    ) -> Result<HashMap<Digest, u64>> {
        let rows = sqlx::query(
            "SELECT b.digest, b.size FROM repository_blobs rb
             JOIN repositories r ON r.id = rb.repository_id
             JOIN blobs b ON b.digest = rb.digest
             WHERE r.name = $1 AND rb.digest IN (SELECT value FROM jsonb_array_elements_text($2::jsonb)) AND b.deleting = 0",
        )
        .bind(repo.as_str())
        .bind(digest_list(digests))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_digest(r.try_get("digest")?)?,
                    r.try_get::<i64, _>("size")? as u64,
                ))
            })
            .collect()
    }

    async fn reserve_blob(&self, digest: &Digest, size: u64) -> Result<bool> {
        Ok(use_blob(&self.write, digest, size, now()).await?)
    }

    async fn link_blob(&self, repo: &RepoName, digest: &Digest, size: u64) -> Result<bool> {
        let now = now();
        let mut tx = self.write.begin().await?;
        gc_lock(&mut tx, false).await?;
        let repo_id = ensure_repository(&mut tx, repo, now).await?;
        if !use_blob(&mut *tx, digest, size, now).await? {
            // Garbage collection is deleting it: no link (the caller waits or uploads).
            return Ok(false);
        }
        insert_link(&mut tx, repo_id, digest, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn touch_blob(&self, digest: &Digest, min_age: i64) -> Result<()> {
        let now = now();
        sqlx::query(
            "UPDATE blobs SET last_used_at = $1 WHERE digest = $2 AND deleting = 0 AND last_used_at < $1 - $3",
        )
        .bind(now)
        .bind(digest.to_string())
        .bind(min_age)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn unlink_blob(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "DELETE FROM repository_blobs
             WHERE digest = $1 AND repository_id = (SELECT id FROM repositories WHERE name = $2)",
        )
        .bind(digest.to_string())
        .bind(repo.as_str())
        .execute(&mut *tx)
        .await?;
        // Released, not forgotten: GC waits its grace period from now.
        sqlx::query("UPDATE blobs SET last_used_at = $1 WHERE digest = $2 AND deleting = 0")
            .bind(now())
            .bind(digest.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn existing_manifests(
        &self,
        repo: &RepoName,
        digests: &[Digest],
    ) -> Result<HashSet<Digest>> {
        let rows = sqlx::query(concat!("SELECT m.digest FROM ", listed_manifests!()))
            .bind(repo.as_str())
            .bind(digest_list(digests))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| parse_digest(r.try_get("digest")?))
            .collect()
    }

    async fn put_manifest(&self, m: NewManifest<'_>) -> Result<()> {
        let now = now();
        let mut tx = self.write.begin().await?;
        let repo_id = ensure_repository(&mut tx, m.repo, now).await?;
        // Checked again under the write lock (the service checked before, outside
        // it): garbage collection may have taken a blob or child in between.
        // SQLite's single writer kept garbage collection out until the commit.
        gc_lock(&mut tx, false).await?;
        if let Some(missing) = missing_reference(&mut tx, repo_id, &m.blobs, &m.children).await? {
            return Err(MetadataError::MissingReference(missing));
        }
        store_manifest(&mut tx, repo_id, &m, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn manifest_by_digest(
        &self,
        repo: &RepoName,
        digest: &Digest,
        content: bool,
    ) -> Result<Option<StoredManifest>> {
        let sql = if content {
            "SELECT m.digest, m.media_type, m.size, m.content FROM manifests m
             JOIN repositories r ON r.id = m.repository_id WHERE r.name = $1 AND m.digest = $2"
        } else {
            "SELECT m.digest, m.media_type, m.size FROM manifests m
             JOIN repositories r ON r.id = m.repository_id WHERE r.name = $1 AND m.digest = $2"
        };
        let row = sqlx::query(sql)
            .bind(repo.as_str())
            .bind(digest.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| stored_manifest(&r, content)).transpose()
    }

    async fn manifest_by_tag(
        &self,
        repo: &RepoName,
        tag: &str,
        content: bool,
    ) -> Result<Option<StoredManifest>> {
        let sql = if content {
            "SELECT m.digest, m.media_type, m.size, m.content FROM tags t
             JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id
             WHERE r.name = $1 AND t.name = $2"
        } else {
            "SELECT m.digest, m.media_type, m.size FROM tags t
             JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id
             WHERE r.name = $1 AND t.name = $2"
        };
        let row = sqlx::query(sql)
            .bind(repo.as_str())
            .bind(tag)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| stored_manifest(&r, content)).transpose()
    }

    async fn delete_manifest(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        // Its blobs are released now: GC waits its grace period from here.
        sqlx::query(
            "UPDATE blobs SET last_used_at = $1 WHERE deleting = 0 AND digest IN (
                 SELECT mr.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id
                  WHERE mr.kind = 'blob' AND m.digest = $2
                    AND m.repository_id = (SELECT id FROM repositories WHERE name = $3))",
        )
        .bind(now())
        .bind(digest.to_string())
        .bind(repo.as_str())
        .execute(&mut *tx)
        .await?;
        // Tags and references go with it (ON DELETE CASCADE).
        let done = sqlx::query(
            "DELETE FROM manifests WHERE digest = $1 AND repository_id = (SELECT id FROM repositories WHERE name = $2)",
        )
        .bind(digest.to_string())
        .bind(repo.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_tag(&self, repo: &RepoName, tag: &str) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM tags WHERE name = $1 AND repository_id = (SELECT id FROM repositories WHERE name = $2)",
        )
        .bind(tag)
        .bind(repo.as_str())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_tags(
        &self,
        repo: &RepoName,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            // The repository's id first, as a value: joined to `repositories`,
            // PostgreSQL expected the average repository's tags and sorted all
            // 100,000 of a large one for each page, instead of reading the
            // primary key (repository_id, name) in order up to the limit.
            "SELECT t.name FROM tags t
             WHERE t.repository_id = (SELECT id FROM repositories WHERE name = $1)
               AND t.name > $2 ORDER BY t.name LIMIT $3",
        )
        .bind(repo.as_str())
        .bind(after.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("name")?)).collect()
    }

    async fn referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>> {
        let rows = sqlx::query(
            "SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM manifests m
             JOIN repositories r ON r.id = m.repository_id
             WHERE r.name = $1 AND m.subject = $2 AND ($3 IS NULL OR m.artifact_type = $3)
             ORDER BY m.created_at, m.digest",
        )
        .bind(repo.as_str())
        .bind(subject.to_string())
        .bind(artifact_type)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let annotations: Option<String> = r.try_get("annotations")?;
                Ok(Referrer {
                    digest: parse_digest(r.try_get("digest")?)?,
                    media_type: r.try_get("media_type")?,
                    size: r.try_get::<i64, _>("size")? as u64,
                    artifact_type: r.try_get("artifact_type")?,
                    annotations: annotations
                        .map(|a| {
                            serde_json::from_str(&a)
                                .map_err(|e| MetadataError::Corrupt(e.to_string()))
                        })
                        .transpose()?,
                })
            })
            .collect()
    }

    async fn list_project_repositories(
        &self,
        project: &str,
        page: PageReq,
    ) -> Result<(Vec<RepoSummary>, i64)> {
        let rows = sqlx::query(paged(
            "SELECT r.name, r.created_at, r.artifact_count AS artifacts,
                    coalesce((SELECT rp.pull_count FROM repository_pulls rp WHERE rp.repository_id = r.id), 0) AS pull_count,
                    coalesce((SELECT max(m.created_at) FROM manifests m WHERE m.repository_id = r.id), r.created_at) AS updated
             FROM repositories r JOIN projects p ON p.id = r.project_id
             WHERE p.name = $1 ORDER BY r.name",
            page,
        ))
        .bind(project)
        .fetch_all(&self.read)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM repositories r JOIN projects p ON p.id = r.project_id WHERE p.name = $1",
        )
        .bind(project)
        .fetch_one(&self.read)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(RepoSummary {
                    name: r.try_get("name")?,
                    artifact_count: r.try_get("artifacts")?,
                    pull_count: r.try_get("pull_count")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok((items, total))
    }

    async fn list_artifacts(
        &self,
        repo: &RepoName,
        page: PageReq,
        labels: &super::labels::LabelMatch,
    ) -> Result<(Vec<Artifact>, i64)> {
        // The repository as a value (not a join): a page is then read from
        // `manifests_by_push` in order and stops at the limit; joined, PostgreSQL
        // sorted all of a large repository's manifests for every page (as for
        // `list_tags`). The label filter is in the text only when there is one,
        // and the bounds are constants (`paged`): with `$3 = 0 OR …` and
        // `LIMIT $4 OFFSET $5` PostgreSQL planned every execution anew.
        let label_filter = if labels.needed() == 0 {
            ""
        } else {
            " AND (SELECT count(*) FROM artifact_labels al WHERE al.manifest_id = m.id AND al.label_id = ANY($2)) >= $3"
        };
        let listed = format!(
            "FROM manifests m
             WHERE m.repository_id = (SELECT id FROM repositories WHERE name = $1) AND m.subject IS NULL
             AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id AND substr(t.name, 1, 7) = 'sha256-' AND (t.name LIKE '%.sig' OR t.name LIKE '%.att' OR t.name LIKE '%.sbom')){label_filter}"
        );
        let sql = format!("SELECT {PAGE_COLUMNS} {listed} ORDER BY m.created_at DESC, m.digest");
        let sql = with_details(&paged(&sql, page).0);
        let mut query = sqlx::query(sql).bind(repo.as_str());
        if labels.needed() > 0 {
            query = query.bind(&labels.ids).bind(labels.needed());
        }
        let row = query.fetch_one(&self.read).await?;
        let (artifacts, kept) = artifacts_of(&row)?;
        // Unfiltered, the count is the one the triggers of migration 0009 keep
        // (counting visited every manifest of the repository on every page).
        let total: i64 = if labels.needed() == 0 {
            kept.unwrap_or(0)
        } else {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) {listed}")))
                .bind(repo.as_str())
                .bind(&labels.ids)
                .bind(labels.needed())
                .fetch_one(&self.read)
                .await?
        };
        Ok((artifacts, total))
    }

    async fn artifact(&self, repo: &RepoName, digest: &Digest) -> Result<Option<Artifact>> {
        let sql = with_details(&format!(
            "SELECT {PAGE_COLUMNS} FROM manifests m
             WHERE m.repository_id = (SELECT id FROM repositories WHERE name = $1) AND m.digest = $2"
        ));
        let row = sqlx::query(sql)
            .bind(repo.as_str())
            .bind(digest.to_string())
            .fetch_one(&self.read)
            .await?;
        Ok(artifacts_of(&row)?.0.pop())
    }

    async fn record_pulls(&self, pulls: &[Pull]) -> Result<()> {
        // One statement for the whole batch (a second's pulls): the manifests'
        // counts and latest times, and each repository's total in
        // `repository_pulls` (0012).
        let repos: Vec<&str> = pulls.iter().map(|p| p.repo.as_str()).collect();
        let digests: Vec<String> = pulls.iter().map(|p| p.digest.to_string()).collect();
        let counts: Vec<i64> = pulls.iter().map(|p| p.count).collect();
        let times: Vec<i64> = pulls.iter().map(|p| p.at).collect();
        sqlx::query(
            "WITH p AS (
                 SELECT r.id AS repository_id, p.digest, sum(p.count)::bigint AS count, max(p.at) AS at
                 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS p(repo, digest, count, at)
                 JOIN repositories r ON r.name = p.repo
                 GROUP BY r.id, p.digest
             ), counted AS (
                 UPDATE manifests m SET pull_count = m.pull_count + p.count,
                                        pulled_at = greatest(coalesce(m.pulled_at, 0), p.at)
                 FROM p WHERE m.repository_id = p.repository_id AND m.digest = p.digest
             )
             INSERT INTO repository_pulls (repository_id, pull_count)
             SELECT repository_id, sum(count)::bigint FROM p GROUP BY repository_id
             ON CONFLICT (repository_id) DO UPDATE
                 SET pull_count = repository_pulls.pull_count + excluded.pull_count",
        )
        .bind(&repos)
        .bind(&digests)
        .bind(&counts)
        .bind(&times)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn put_tag(&self, repo: &RepoName, tag: &str, digest: &Digest) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO tags (repository_id, name, manifest_id, updated_at)
             SELECT m.repository_id, $1, m.id, $2 FROM manifests m JOIN repositories r ON r.id = m.repository_id
             WHERE r.name = $3 AND m.digest = $4
             ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at",
        )
        .bind(tag)
        .bind(now())
        .bind(repo.as_str())
        .bind(digest.to_string())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_tags(&self, repo: &RepoName, tags: &[(String, Digest)]) -> Result<u64> {
        insert_tags(&self.write, repo, tags, now()).await
    }

    async fn put_batch(&self, batch: &PushBatch<'_>) -> Result<u64> {
        let now = now();
        let mut tx = self.write.begin().await?;
        // As each write it stands for: garbage collection waits for the commit.
        gc_lock(&mut tx, false).await?;
        let mut ids: HashMap<&str, i64> = HashMap::new();
        for link in &batch.links {
            let repo_id = cached_repository(&mut tx, &mut ids, link.repo, now).await?;
            if !use_blob(&mut *tx, link.digest, link.size, now).await? {
                return Err(MetadataError::MissingReference(link.digest.clone()));
            }
            insert_link(&mut tx, repo_id, link.digest, now).await?;
        }
        for m in &batch.manifests {
            let repo_id = cached_repository(&mut tx, &mut ids, m.repo, now).await?;
            if let Some(missing) =
                missing_reference(&mut tx, repo_id, &m.blobs, &m.children).await?
            {
                return Err(MetadataError::MissingReference(missing));
            }
            store_manifest(&mut tx, repo_id, m, now).await?;
        }
        let mut set = 0;
        for (repo, tags) in &batch.tags {
            set += insert_tags(&mut *tx, repo, tags, now).await?;
        }
        tx.commit().await?;
        Ok(set)
    }

    async fn delete_repository(&self, repo: &RepoName) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        // Its blobs are released now: GC waits its grace period from here.
        sqlx::query(
            "UPDATE blobs SET last_used_at = $1 WHERE deleting = 0 AND digest IN (
                 SELECT rb.digest FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
                  WHERE r.name = $2
                 UNION
                 SELECT mr.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id
                  JOIN repositories r ON r.id = m.repository_id WHERE r.name = $2 AND mr.kind = 'blob')",
        )
        .bind(now())
        .bind(repo.as_str())
        .execute(&mut *tx)
        .await?;
        // Manifests, tags, references and blob links cascade from the repository row.
        let done = sqlx::query("DELETE FROM repositories WHERE name = $1")
            .bind(repo.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_upload(&self, id: &str, repo: &RepoName) -> Result<()> {
        let now = now();
        sqlx::query(
            "INSERT INTO uploads (id, repository, created_at, updated_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(repo.as_str())
        .bind(now)
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn upload(&self, id: &str) -> Result<Option<Upload>> {
        let row = sqlx::query("SELECT id, repository, updated_at FROM uploads WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| {
            Ok(Upload {
                id: r.try_get("id")?,
                repository: r.try_get("repository")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
    }

    async fn touch_upload(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE uploads SET updated_at = $1 WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn delete_upload(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn count_uploads(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads")
            .fetch_one(&self.read)
            .await?;
        Ok(n as u64)
    }

    async fn stale_uploads(&self, before: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM uploads WHERE updated_at < $1")
            .bind(before)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    async fn after_bulk_load(&self) -> Result<()> {
        // Every table of this database (only the registry's are in it). A plain
        // (simple-protocol) statement: VACUUM may not run in a transaction.
        sqlx::raw_sql("VACUUM (ANALYZE)")
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
