//! [`JobStore`] and [`LifecycleStore`] on PostgreSQL: `sqlite_lifecycle.rs`'s twin, in the same order.
//!
//! Claims, lease renewals and schedule firings are single statements or one
//! transaction on the writer connection; across processes SQLite's write lock
//! serializes them, so each job is claimed by one process and each due
//! schedule fires once.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

use super::identity::PageReq;
use super::lifecycle::{
    Collected, DoomedBlob, Job, JobFilter, JobOutcome, JobSchedule, JobStatus, JobStore,
    LifecycleStore, MAX_LOG_LINES, ManifestBytes, NewJob,
};
use super::postgres::gc_lock;
use super::sqlite::{digest_list, paged, parse_digest};
use super::sqlite_lifecycle::{job_row, schedule_row};
use super::{PgMetadata, Result, now};
use crate::digest::Digest;

macro_rules! job_columns {
    () => {
        "id, kind, parameters, status, trigger, attempts, max_attempts, next_run_at, lease_owner, \
         lease_expires_at, stop_requested, result, message, created_at, started_at, ended_at, updated_at"
    };
}

async fn insert_job<'c, E>(exec: E, job: &NewJob, t: i64) -> Result<i64>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    Ok(sqlx::query_scalar(
        "INSERT INTO jobs (kind, parameters, status, trigger, max_attempts, next_run_at, created_at, updated_at)
         VALUES ($1, $2, 'Pending', $3, $4, $5, $5, $5) RETURNING id",
    )
    .bind(&job.kind)
    .bind(job.parameters.to_string())
    .bind(job.trigger.as_str())
    .bind(job.max_attempts.max(1) as i64)
    .bind(t)
    .fetch_one(exec)
    .await?)
}

#[async_trait]
impl JobStore for PgMetadata {
    async fn enqueue_job(&self, job: NewJob) -> Result<i64> {
        insert_job(&self.write, &job, now()).await
    }

    async fn claim_job(
        &self,
        owner: &str,
        kinds: &[String],
        now: i64,
        lease_secs: i64,
    ) -> Result<Option<Job>> {
        let kinds = serde_json::to_string(kinds).expect("kinds serialize");
        // Jobs whose holder died: ended if a stop was asked or attempts are used up.
        sqlx::query(
            "UPDATE jobs SET
                 status = CASE WHEN stop_requested = 1 THEN 'Stopped' ELSE 'Error' END,
                 message = CASE WHEN stop_requested = 1 THEN message
                                ELSE 'the process running the job stopped during its last attempt' END,
                 lease_owner = NULL, ended_at = $1, updated_at = $1
             WHERE status = 'Running' AND lease_expires_at < $1
               AND (stop_requested = 1 OR attempts >= max_attempts)
               AND kind IN (SELECT value FROM jsonb_array_elements_text($2::jsonb))",
        )
        .bind(now)
        .bind(&kinds)
        .execute(&self.write)
        .await?;
        // The claim and its "started" log line commit together: a process killed
        // right after claiming still leaves the attempt in the log.
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE jobs SET status = 'Running', lease_owner = $1, lease_expires_at = $2 + $3,
                 attempts = attempts + 1, started_at = $2, ended_at = NULL, updated_at = $2
             WHERE id = (SELECT id FROM jobs
                         WHERE kind IN (SELECT value FROM jsonb_array_elements_text($4::jsonb))
                           AND ((status = 'Pending' AND next_run_at <= $2)
                                OR (status = 'Running' AND lease_expires_at < $2))
                         ORDER BY next_run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING ",
            job_columns!()
        ))
        .bind(owner)
        .bind(now)
        .bind(lease_secs)
        .bind(&kinds)
        .fetch_optional(&mut *tx)
        .await?;
        let job = row.as_ref().map(job_row).transpose()?;
        if let Some(job) = &job {
            sqlx::query(
                "INSERT INTO job_logs (job_id, seq, at, line)
                 SELECT $1, coalesce(max(seq), 0) + 1, $2, $3 FROM job_logs WHERE job_id = $1
                 HAVING coalesce(max(seq), 0) < $4",
            )
            .bind(job.id)
            .bind(now)
            .bind(format!(
                "{} job {} started (attempt {} of {})",
                job.kind, job.id, job.attempts, job.max_attempts
            ))
            .bind(MAX_LOG_LINES)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(job)
    }

    async fn renew_lease(&self, id: i64, owner: &str, until: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1, updated_at = $2
             WHERE id = $3 AND lease_owner = $4 AND status = 'Running'",
        )
        .bind(until)
        .bind(now())
        .bind(id)
        .bind(owner)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn finish_job(&self, id: i64, owner: &str, outcome: JobOutcome) -> Result<bool> {
        let t = now();
        let query = match &outcome {
            JobOutcome::Success(result) | JobOutcome::Stopped(result) => sqlx::query(
                "UPDATE jobs SET status = $1, result = $2, message = NULL, lease_owner = NULL,
                     lease_expires_at = NULL, ended_at = $3, updated_at = $3
                 WHERE id = $4 AND lease_owner = $5 AND status = 'Running'",
            )
            .bind(if matches!(outcome, JobOutcome::Success(_)) {
                "Success"
            } else {
                "Stopped"
            })
            .bind(result.to_string()),
            JobOutcome::Failed { message, retry_at } => sqlx::query(
                "UPDATE jobs SET
                     status = CASE WHEN attempts >= max_attempts THEN 'Error' ELSE 'Pending' END,
                     ended_at = CASE WHEN attempts >= max_attempts THEN $3 ELSE NULL END,
                     next_run_at = $2, message = $1, lease_owner = NULL, lease_expires_at = NULL,
                     updated_at = $3
                 WHERE id = $4 AND lease_owner = $5 AND status = 'Running'",
            )
            .bind(message.as_str())
            .bind(*retry_at),
        };
        let done = query
            .bind(t)
            .bind(id)
            .bind(owner)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn request_stop(&self, id: i64) -> Result<Option<Job>> {
        let t = now();
        sqlx::query(
            "UPDATE jobs SET stop_requested = 1,
                 status = CASE WHEN status = 'Pending' THEN 'Stopped' ELSE status END,
                 ended_at = CASE WHEN status = 'Pending' THEN $1 ELSE ended_at END,
                 updated_at = $1
             WHERE id = $2 AND status IN ('Pending', 'Running')",
        )
        .bind(t)
        .bind(id)
        .execute(&self.write)
        .await?;
        self.job(id).await
    }

    async fn retry_job(&self, id: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'Pending', attempts = 0, next_run_at = $1, stop_requested = 0,
                 message = NULL, ended_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
                 updated_at = $1
             WHERE id = $2 AND status IN ('Error', 'Stopped')",
        )
        .bind(now)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn job(&self, id: i64) -> Result<Option<Job>> {
        // The writer: a caller that just changed the job reads its own write.
        let row = sqlx::query(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.write)
        .await?;
        row.as_ref().map(job_row).transpose()
    }

    async fn job_counts(&self) -> Result<Vec<(String, JobStatus, i64)>> {
        let rows = sqlx::query(
            "SELECT kind, status, count(*) AS n FROM jobs GROUP BY kind, status ORDER BY kind, status",
        )
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let status: String = r.try_get("status")?;
            if let Some(status) = JobStatus::parse(&status) {
                out.push((r.try_get("kind")?, status, r.try_get("n")?));
            }
        }
        Ok(out)
    }

    async fn list_jobs(&self, filter: &JobFilter, page: PageReq) -> Result<(Vec<Job>, i64)> {
        let status = filter.status.map(JobStatus::as_str);
        let rows = sqlx::query(paged(
            concat!(
                "SELECT ",
                job_columns!(),
                " FROM jobs WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR status = $2)
              ORDER BY id DESC"
            ),
            page,
        ))
        .bind(filter.kind.as_deref())
        .bind(status)
        .fetch_all(&self.read)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR status = $2)",
        )
        .bind(filter.kind.as_deref())
        .bind(status)
        .fetch_one(&self.read)
        .await?;
        let jobs = rows.iter().map(job_row).collect::<Result<_>>()?;
        Ok((jobs, total))
    }

    async fn append_job_log(&self, id: i64, lines: &[String]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let t = now();
        let mut tx = self.write.begin().await?;
        // `max(seq) + 1` read by two writers at once (the job's holder and a
        // replica claiming it after its lease ran out, or two tasks of one job)
        // would give both the same number: the job's row lock queues them.
        sqlx::query("SELECT id FROM jobs WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for line in lines {
            sqlx::query(
                "INSERT INTO job_logs (job_id, seq, at, line)
                 SELECT $1, coalesce(max(seq), 0) + 1, $2, $3 FROM job_logs WHERE job_id = $1
                 HAVING coalesce(max(seq), 0) < $4",
            )
            .bind(id)
            .bind(t)
            .bind(line)
            .bind(MAX_LOG_LINES)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn job_log(&self, id: i64) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query("SELECT at, line FROM job_logs WHERE job_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("at")?, r.try_get("line")?)))
            .collect()
    }

    async fn put_schedule(&self, s: &JobSchedule) -> Result<()> {
        sqlx::query(
            "INSERT INTO job_schedules (kind, type, cron, parameters, next_run_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (kind) DO UPDATE SET type = excluded.type, cron = excluded.cron,
                 parameters = excluded.parameters, next_run_at = excluded.next_run_at,
                 updated_at = excluded.updated_at",
        )
        .bind(&s.kind)
        .bind(&s.schedule_type)
        .bind(&s.cron)
        .bind(s.parameters.to_string())
        .bind(s.next_run_at)
        .bind(now())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn schedule(&self, kind: &str) -> Result<Option<JobSchedule>> {
        let row = sqlx::query(
            "SELECT kind, type, cron, parameters, next_run_at, created_at, updated_at
             FROM job_schedules WHERE kind = $1",
        )
        .bind(kind)
        .fetch_optional(&self.write)
        .await?;
        row.as_ref().map(schedule_row).transpose()
    }

    async fn due_schedules(&self, now: i64) -> Result<Vec<JobSchedule>> {
        let rows = sqlx::query(
            "SELECT kind, type, cron, parameters, next_run_at, created_at, updated_at
             FROM job_schedules WHERE next_run_at IS NOT NULL AND next_run_at <= $1 ORDER BY kind",
        )
        .bind(now)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(schedule_row).collect()
    }

    async fn fire_schedule(
        &self,
        kind: &str,
        expected: i64,
        next: Option<i64>,
        job: NewJob,
    ) -> Result<Option<i64>> {
        let t = now();
        let mut tx = self.write.begin().await?;
        let moved = sqlx::query(
            "UPDATE job_schedules SET next_run_at = $1, updated_at = $2 WHERE kind = $3 AND next_run_at = $4",
        )
        .bind(next)
        .bind(t)
        .bind(kind)
        .bind(expected)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(None);
        }
        let id = insert_job(&mut *tx, &job, t).await?;
        tx.commit().await?;
        Ok(Some(id))
    }
}

/// Manifests that garbage collection keeps: the least fixed point from the
/// roots (?1 = cutoff: manifests pushed since are young; ?2 = 0: every
/// manifest that is not an accessory is a root, i.e. untagged ones are kept).
///
/// - roots: manifests with a tag that is not an accessory tag
///   (`sha256-<hex>`, `.sig`, `.att`, `.sbom`), young manifests, and (without
///   `delete_untagged`) every manifest that is not an accessory; the cached
///   platforms an index kept by a proxy cache lists (`proxy_cached_indexes`: the
///   index itself is no manifest row until all its platforms are cached);
/// - a live index keeps its children in the same repository;
/// - a live manifest keeps its referrers (`subject`) and its cosign accessory tags;
/// - a live referrer keeps its subject.
///
/// Everything else is garbage: an accessory is collected with its subject and
/// never while its subject lives.
///
/// The four ways one manifest keeps another are collected first, as `edges`
/// (keeper to kept), as SQLite's mark does: few manifests are indexes,
/// referrers or accessories, so the set is small, and each step of the
/// recursion is one hash probe per live manifest. Searched for from every live
/// manifest instead (four index probes each, one `LATERAL` term: PostgreSQL
/// allows one recursive reference), the mark took 2.4 s of 200,000 manifests;
/// it takes 1.1 s, most of it reading and deduplicating the 1,200,000 roots.
const DEAD_MANIFESTS: &str = "
WITH RECURSIVE edges(src, dst) AS MATERIALIZED (
    SELECT mr.manifest_id, c.id FROM manifest_references mr
      JOIN manifests p ON p.id = mr.manifest_id
      JOIN manifests c ON c.repository_id = p.repository_id AND c.digest = mr.digest
     WHERE mr.kind = 'manifest'
    UNION ALL
    SELECT s.id, r.id FROM manifests r
      JOIN manifests s ON s.repository_id = r.repository_id AND s.digest = r.subject
     WHERE r.subject IS NOT NULL
    UNION ALL
    SELECT r.id, s.id FROM manifests r
      JOIN manifests s ON s.repository_id = r.repository_id AND s.digest = r.subject
     WHERE r.subject IS NOT NULL
    UNION ALL
    SELECT s.id, t.manifest_id FROM tags t
      JOIN manifests s ON s.repository_id = t.repository_id
       AND s.digest = 'sha256:' || CASE
             WHEN t.name LIKE '%.sig' OR t.name LIKE '%.att' THEN substr(t.name, 8, length(t.name) - 11)
             WHEN t.name LIKE '%.sbom' THEN substr(t.name, 8, length(t.name) - 12)
             ELSE substr(t.name, 8) END
     WHERE substr(t.name, 1, 7) = 'sha256-'
),
live(id) AS (
    SELECT t.manifest_id FROM tags t
     WHERE NOT (substr(t.name, 1, 7) = 'sha256-'
                AND (length(t.name) = 71 OR t.name LIKE '%.sig' OR t.name LIKE '%.att' OR t.name LIKE '%.sbom'))
    UNION
    SELECT m.id FROM manifests m WHERE m.last_used_at >= $1
    UNION
    SELECT m.id FROM proxy_cached_indexes ci
      JOIN repositories r ON r.name = ci.repository
      JOIN manifests m ON m.repository_id = r.id
       AND m.digest IN (SELECT j ->> 'digest' FROM jsonb_array_elements(ci.body::jsonb -> 'manifests') j)
    UNION
    SELECT m.id FROM manifests m
     WHERE $2 = 0 AND m.subject IS NULL
       AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id
                       AND substr(t.name, 1, 7) = 'sha256-'
                       AND (length(t.name) = 71 OR t.name LIKE '%.sig' OR t.name LIKE '%.att' OR t.name LIKE '%.sbom'))
    UNION
    SELECT e.dst FROM live l JOIN edges e ON e.src = l.id
)
";

/// A manifest `m` the mark did not reach. `NOT EXISTS`, not `id NOT IN (SELECT id
/// FROM live)`: the planner expects millions of rows from the recursive CTE, too
/// many to hash, and ran `NOT IN` as a scan of `live` per manifest (18 s for
/// 20,000 manifests); `NOT EXISTS` is an anti-join, hashed (0.3 s). The same
/// for the dry run's dead set.
const NOT_LIVE: &str = "NOT EXISTS (SELECT 1 FROM live l WHERE l.id = m.id)";

/// Blobs no manifest references, unused since ?1 and not already being deleted.
const COLLECTABLE_BLOBS: &str = "
SELECT b.digest, b.size FROM blobs b
 WHERE b.deleting = 0 AND b.last_used_at < $1
   AND NOT EXISTS (SELECT 1 FROM manifest_references mr WHERE mr.digest = b.digest AND mr.kind = 'blob')";

async fn delete_dead_manifests(
    conn: &mut PgConnection,
    cutoff: i64,
    untagged: bool,
) -> Result<u64> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{DEAD_MANIFESTS} DELETE FROM manifests m WHERE {NOT_LIVE}"
    )))
    .bind(cutoff)
    .bind(untagged as i64)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// No JIT compilation for the rest of this transaction. The mark's recursive
/// CTE is estimated at thousands of times its size (48 million rows for 20,000
/// manifests), far past `jit_above_cost`, and PostgreSQL then spent 0.45 s
/// compiling a query that runs in 0.3 s.
async fn without_jit(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SET LOCAL jit = off")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn doomed_rows(rows: &[PgRow]) -> Result<Vec<DoomedBlob>> {
    rows.iter()
        .map(|r| {
            Ok(DoomedBlob {
                digest: parse_digest(r.try_get("digest")?)?,
                size: r.try_get::<i64, _>("size")? as u64,
            })
        })
        .collect()
}

#[async_trait]
impl LifecycleStore for PgMetadata {
    async fn collect_manifests(&self, cutoff: i64, untagged: bool) -> Result<u64> {
        // Looked for first without the write lock: most runs find nothing, and
        // pushes need not wait for them. What a snapshot misses, the next run finds.
        let mut tx = self.read.begin().await?;
        without_jit(&mut tx).await?;
        let dead: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "{DEAD_MANIFESTS} SELECT count(*) FROM manifests m WHERE {NOT_LIVE}"
        )))
        .bind(cutoff)
        .bind(untagged as i64)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if dead == 0 {
            return Ok(0);
        }
        // The GC lock, exclusive: the live set is computed and applied with no
        // push in between (pushes hold it shared; in this or another process).
        let mut tx = self.write.begin().await?;
        gc_lock(&mut tx, true).await?;
        without_jit(&mut tx).await?;
        let n = delete_dead_manifests(&mut tx, cutoff, untagged).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn preview(&self, cutoff: i64, untagged: bool) -> Result<Collected> {
        // One read, no GC lock: what collection would delete, counted as if the
        // dead manifests (and with them their references) were gone. Done as a
        // rolled-back delete under the exclusive GC lock, a dry run made every
        // push wait for as long as the mark took.
        let mut tx = self.read.begin().await?;
        without_jit(&mut tx).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DEAD_MANIFESTS}, dead AS MATERIALIZED (
                 SELECT m.id FROM manifests m WHERE {NOT_LIVE})
             SELECT (SELECT count(*) FROM dead) AS manifests,
                    count(*) AS n, coalesce(sum(b.size), 0)::BIGINT AS bytes
               FROM blobs b
              WHERE b.deleting = 0 AND b.last_used_at < $1
                AND NOT EXISTS (SELECT 1 FROM manifest_references mr
                                 WHERE mr.digest = b.digest AND mr.kind = 'blob'
                                   AND NOT EXISTS (SELECT 1 FROM dead d WHERE d.id = mr.manifest_id))"
        )))
        .bind(cutoff)
        .bind(untagged as i64)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Collected {
            manifests: row.try_get::<i64, _>("manifests")? as u64,
            blobs: row.try_get::<i64, _>("n")? as u64,
            bytes: row.try_get::<i64, _>("bytes")? as u64,
        })
    }

    async fn mark_blobs_deleting(&self, cutoff: i64, limit: u32) -> Result<Vec<DoomedBlob>> {
        // As above: no write lock when a snapshot shows nothing to mark.
        let any = sqlx::query(sqlx::AssertSqlSafe(format!("{COLLECTABLE_BLOBS} LIMIT 1")))
            .bind(cutoff)
            .fetch_optional(&self.read)
            .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.write.begin().await?;
        gc_lock(&mut tx, true).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE blobs SET deleting = 1
              WHERE digest IN (SELECT digest FROM ({COLLECTABLE_BLOBS}) c LIMIT $2)
              RETURNING digest, size"
        )))
        .bind(cutoff)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let doomed = doomed_rows(&rows)?;
        if !doomed.is_empty() {
            let digests: Vec<Digest> = doomed.iter().map(|d| d.digest.clone()).collect();
            // No repository serves a blob from here on: HEAD says absent, a
            // manifest naming it is refused, a mount starts an upload instead.
            sqlx::query(
                "DELETE FROM repository_blobs WHERE digest IN (SELECT value FROM jsonb_array_elements_text($1::jsonb))",
            )
            .bind(digest_list(&digests))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(doomed)
    }

    async fn deleting_blobs(&self, limit: u32) -> Result<Vec<DoomedBlob>> {
        let rows = sqlx::query(
            "SELECT digest, size FROM blobs WHERE deleting = 1 ORDER BY digest LIMIT $1",
        )
        .bind(limit as i64)
        .fetch_all(&self.write)
        .await?;
        doomed_rows(&rows)
    }

    async fn forget_blobs(&self, digests: &[Digest]) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM blobs WHERE deleting = 1 AND digest IN (SELECT value FROM jsonb_array_elements_text($1::jsonb))",
        )
        .bind(digest_list(digests))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }

    async fn blobs_after(&self, after: Option<&Digest>, limit: u32) -> Result<Vec<DoomedBlob>> {
        let rows = sqlx::query(
            "SELECT digest, size FROM blobs WHERE deleting = 0 AND digest > $1 ORDER BY digest LIMIT $2",
        )
        .bind(after.map(|d| d.to_string()).unwrap_or_default())
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        doomed_rows(&rows)
    }

    async fn manifests_after(&self, after: i64, limit: u32) -> Result<Vec<(i64, ManifestBytes)>> {
        let rows = sqlx::query(
            "SELECT m.id, r.name, m.digest, m.content FROM manifests m
               JOIN repositories r ON r.id = m.repository_id
              WHERE m.id > $1 ORDER BY m.id LIMIT $2",
        )
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    ManifestBytes {
                        repository: r.try_get("name")?,
                        digest: parse_digest(r.try_get("digest")?)?,
                        content: r.try_get("content")?,
                    },
                ))
            })
            .collect()
    }

    async fn blob_in_use(&self, digest: &Digest) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM blobs WHERE digest = $1 AND deleting = 0")
            .bind(digest.to_string())
            .fetch_optional(&self.write)
            .await?;
        Ok(row.is_some())
    }

    async fn unlink_everywhere(&self, digest: &Digest) -> Result<u64> {
        let done = sqlx::query("DELETE FROM repository_blobs WHERE digest = $1")
            .bind(digest.to_string())
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    async fn repositories_with_blob(&self, digest: &Digest) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT r.name FROM repositories r WHERE r.id IN (
                 SELECT repository_id FROM repository_blobs WHERE digest = $1
                 UNION
                 SELECT m.repository_id FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id
                  WHERE mr.digest = $1 AND mr.kind = 'blob')
             ORDER BY r.name",
        )
        .bind(digest.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("name")?)).collect()
    }
}
