//! [`SecurityStore`] on PostgreSQL: `sqlite_security.rs`'s twin, in the same order.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use sqlx::{Postgres, QueryBuilder, Row};

use super::identity::PageReq;
use super::security::{
    Allowlist, ScanOutcome, ScanRecord, ScanStatus, SecurityStore, VulnerabilityReport,
};
use super::security::{DangerousArtifact, DangerousCve, SecuritySummary, VulnItem, VulnQuery};
use super::sqlite::{digest_list, parse_digest};
use super::sqlite_security::{
    allowlist_row, digest_and_repository, scan_row, severity_of_rank, severity_rank,
};
use super::{MetadataError, PgMetadata, Result, now};
use crate::digest::Digest;
use wharf_scanner::Severity;

/// Columns of a [`ScanRecord`] (a macro so queries stay `&'static str` for sqlx).
macro_rules! scan_columns {
    () => {
        "digest, repository, status, severity, summary, db_version, message, requested_at, started_at, ended_at"
    };
}

/// Replaces the Security Hub's rows of `digest` with the findings of `report`:
/// two statements over JSON arrays, whatever the number of findings.
async fn index_findings(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    digest: &Digest,
    report: &VulnerabilityReport,
) -> Result<()> {
    let findings: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            serde_json::json!([
                f.vulnerability_id,
                f.package.name,
                f.package.version,
                f.fixed_version.as_deref().unwrap_or(""),
                severity_rank(f.severity()),
                f.advisory.cvss_v3.as_ref().map(|c| c.score),
                f.status,
            ])
        })
        .collect();
    let vulnerabilities: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            let a = &f.advisory;
            let links: Vec<&str> = a.references.iter().map(|r| r.url.as_str()).collect();
            serde_json::json!([
                f.vulnerability_id,
                a.summary.as_deref().or(a.details.as_deref()).unwrap_or(""),
                serde_json::to_string(&links).unwrap_or_else(|_| "[]".into()),
                severity_rank(f.severity()),
                a.cvss_v3.as_ref().map(|c| c.score),
            ])
        })
        .collect();
    sqlx::query("DELETE FROM scan_findings WHERE digest = $1")
        .bind(digest.to_string())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO scan_findings
             (digest, vuln_id, package, version, fixed_version, severity, cvss_v3, status)
         SELECT $1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, (value ->> 4)::BIGINT,
                (value ->> 5)::DOUBLE PRECISION, value ->> 6
         FROM jsonb_array_elements($2::jsonb)
         ON CONFLICT DO NOTHING",
    )
    .bind(digest.to_string())
    .bind(serde_json::Value::Array(findings).to_string())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO vulnerabilities (id, description, links, severity, cvss_v3)
         SELECT value ->> 0, value ->> 1, value ->> 2, (value ->> 3)::BIGINT, (value ->> 4)::DOUBLE PRECISION
         FROM jsonb_array_elements($1::jsonb)
         ON CONFLICT (id) DO UPDATE SET description = excluded.description, links = excluded.links,
             severity = greatest(vulnerabilities.severity, excluded.severity),
             cvss_v3 = greatest(coalesce(vulnerabilities.cvss_v3, excluded.cvss_v3),
                                coalesce(excluded.cvss_v3, vulnerabilities.cvss_v3))",
    )
    .bind(serde_json::Value::Array(vulnerabilities).to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl SecurityStore for PgMetadata {
    async fn project_metadata(&self, project_id: i64) -> Result<BTreeMap<String, String>> {
        let rows = sqlx::query("SELECT key, value FROM project_metadata WHERE project_id = $1")
            .bind(project_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("key")?, r.try_get("value")?)))
            .collect()
    }

    async fn project_metadata_many(
        &self,
        project_ids: &[i64],
    ) -> Result<HashMap<i64, BTreeMap<String, String>>> {
        if project_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = serde_json::to_string(project_ids).expect("ids serialize");
        let rows = sqlx::query("SELECT project_id, key, value FROM project_metadata WHERE project_id IN (SELECT value::BIGINT FROM jsonb_array_elements_text($1::jsonb))")
            .bind(ids)
            .fetch_all(&self.read)
            .await?;
        let mut out: HashMap<i64, BTreeMap<String, String>> = HashMap::new();
        for r in &rows {
            out.entry(r.try_get("project_id")?)
                .or_default()
                .insert(r.try_get("key")?, r.try_get("value")?);
        }
        Ok(out)
    }

    async fn set_project_metadata(
        &self,
        project_id: i64,
        values: &BTreeMap<String, String>,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for (k, v) in values {
            sqlx::query(
                "INSERT INTO project_metadata (project_id, key, value) VALUES ($1, $2, $3)
                         ON CONFLICT (project_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(project_id)
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn allowlist(&self, scope: &str) -> Result<Option<Allowlist>> {
        let row = sqlx::query(
            "SELECT items, expires_at, created_at, updated_at FROM cve_allowlists WHERE scope = $1",
        )
        .bind(scope)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(allowlist_row).transpose()
    }

    async fn allowlists(&self, scopes: &[String]) -> Result<HashMap<String, Allowlist>> {
        if scopes.is_empty() {
            return Ok(HashMap::new());
        }
        let list = serde_json::to_string(scopes).expect("scopes serialize");
        let rows = sqlx::query("SELECT scope, items, expires_at, created_at, updated_at FROM cve_allowlists WHERE scope IN (SELECT value FROM jsonb_array_elements_text($1::jsonb))")
            .bind(list)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("scope")?, allowlist_row(r)?)))
            .collect()
    }

    async fn set_allowlist(
        &self,
        scope: &str,
        items: &[String],
        expires_at: Option<i64>,
    ) -> Result<()> {
        let t = now();
        sqlx::query("INSERT INTO cve_allowlists (scope, items, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (scope) DO UPDATE SET items = excluded.items, expires_at = excluded.expires_at,
                     updated_at = excluded.updated_at")
            .bind(scope)
            .bind(serde_json::to_string(items).unwrap_or_else(|_| "[]".into()))
            .bind(expires_at)
            .bind(t)
            .bind(t)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn queue_scan(&self, digest: &Digest, repository: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO scan_reports (digest, repository, status, requested_at) VALUES ($1, $2, 'Pending', $3)
             ON CONFLICT (digest) DO UPDATE SET repository = excluded.repository, status = 'Pending',
                 requested_at = excluded.requested_at, message = NULL, lease_owner = NULL
             WHERE scan_reports.status NOT IN ('Pending', 'Running')",
        )
        .bind(digest.to_string())
        .bind(repository)
        .bind(now())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn start_scan(&self, digest: &Digest, owner: &str, lease_until: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE scan_reports SET status = 'Running', started_at = $1, lease_until = $2,
                 lease_owner = $3
             WHERE digest = $4 AND status = 'Pending'",
        )
        .bind(now())
        .bind(lease_until)
        .bind(owner)
        .bind(digest.to_string())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn renew_scan(&self, digest: &Digest, owner: &str, lease_until: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE scan_reports SET lease_until = $1
             WHERE digest = $2 AND status = 'Running' AND lease_owner = $3",
        )
        .bind(lease_until)
        .bind(digest.to_string())
        .bind(owner)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn requeue_expired_scans(&self, now: i64, limit: i64) -> Result<Vec<Digest>> {
        // One statement: the condition is checked again on each row as it is
        // updated, so a scan two processes both see expired moves once.
        let rows = sqlx::query(
            "UPDATE scan_reports SET status = 'Pending', requested_at = $1, lease_until = NULL, lease_owner = NULL,
                 message = 'interrupted: the process running the scan stopped'
             WHERE digest IN (SELECT digest FROM scan_reports
                              WHERE status = 'Running' AND coalesce(lease_until, 0) < $2
                              ORDER BY requested_at LIMIT $3)
               AND status = 'Running' AND coalesce(lease_until, 0) < $4
             RETURNING digest",
        )
        .bind(now)
        .bind(now)
        .bind(limit)
        .bind(now)
        .fetch_all(&self.write)
        .await?;
        rows.iter()
            .map(|r| parse_digest(r.try_get("digest")?))
            .collect()
    }

    async fn finish_scan(&self, digest: &Digest, owner: &str, o: ScanOutcome<'_>) -> Result<bool> {
        fn json<T: serde::Serialize>(v: Option<&T>) -> Result<Option<String>> {
            v.map(|v| {
                serde_json::to_string(v)
                    .map_err(|e| MetadataError::Corrupt(format!("encoding a scan result: {e}")))
            })
            .transpose()
        }
        let mut tx = self.write.begin().await?;
        // A failed rescan keeps the previous report: the last good answer stays readable.
        // Only the lease's owner writes: a stopped scan, or one requeued and taken by
        // another run while this one stalled, is left to that run.
        let done = sqlx::query(
            "UPDATE scan_reports SET status = $1, ended_at = $2, message = $3,
                 severity = coalesce($4, severity), summary = coalesce($5, summary),
                 report = coalesce($6, report), db_version = coalesce($7, db_version)
             WHERE digest = $8 AND status = 'Running' AND lease_owner = $9",
        )
        .bind(o.status.as_str())
        .bind(now())
        .bind(o.message)
        .bind(o.severity.map(|s| s.as_str()))
        .bind(json(o.summary)?)
        .bind(json(o.report)?)
        .bind(o.db_version)
        .bind(digest.to_string())
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some(report) = o.report {
            index_findings(&mut tx, digest, report).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn stop_scan(&self, digest: &Digest) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "UPDATE scan_reports SET status = 'Stopped', ended_at = $1, message = 'stopped'
             WHERE digest = $2 AND status IN ('Pending', 'Running') RETURNING repository",
        )
        .bind(now())
        .bind(digest.to_string())
        .fetch_optional(&self.write)
        .await?)
    }

    async fn stop_scans(&self) -> Result<Vec<(Digest, String)>> {
        let rows = sqlx::query(
            "UPDATE scan_reports SET status = 'Stopped', ended_at = $1, message = 'stopped'
             WHERE status IN ('Pending', 'Running') RETURNING digest, repository",
        )
        .bind(now())
        .fetch_all(&self.write)
        .await?;
        rows.iter().map(digest_and_repository).collect()
    }

    async fn scan(&self, digest: &Digest) -> Result<Option<ScanRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            scan_columns!(),
            " FROM scan_reports WHERE digest = $1"
        ))
        .bind(digest.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(scan_row).transpose()
    }

    async fn scan_report(&self, digest: &Digest) -> Result<Option<VulnerabilityReport>> {
        let report: Option<Option<String>> =
            sqlx::query_scalar("SELECT report FROM scan_reports WHERE digest = $1")
                .bind(digest.to_string())
                .fetch_optional(&self.read)
                .await?;
        report
            .flatten()
            .map(|s| {
                serde_json::from_str(&s)
                    .map_err(|e| MetadataError::Corrupt(format!("scan report: {e}")))
            })
            .transpose()
    }

    async fn scans(&self, digests: &[Digest]) -> Result<HashMap<Digest, ScanRecord>> {
        if digests.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query(concat!(
            "SELECT ",
            scan_columns!(),
            " FROM scan_reports WHERE digest IN (SELECT value FROM jsonb_array_elements_text($1::jsonb))"
        ))
        .bind(digest_list(digests))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| scan_row(r).map(|s| (s.digest.clone(), s)))
            .collect()
    }

    async fn unfinished_scans(
        &self,
        status: ScanStatus,
        limit: i64,
    ) -> Result<Vec<(Digest, String)>> {
        let rows = sqlx::query(
            "SELECT digest, repository FROM scan_reports WHERE status = $1 ORDER BY requested_at LIMIT $2",
        )
        .bind(status.as_str())
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(digest_and_repository).collect()
    }

    async fn scan_counts(&self) -> Result<BTreeMap<String, i64>> {
        let rows = sqlx::query("SELECT status, count(*) AS n FROM scan_reports GROUP BY status")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }

    async fn search_vulnerabilities(
        &self,
        q: &VulnQuery,
        page: PageReq,
        with_tags: bool,
        count_limit: Option<u64>,
    ) -> Result<(Vec<VulnItem>, i64)> {
        // Only the conditions given are written, so SQLite picks the index each one
        // has (a `?1 IS NULL OR …` form would hide them all); values are always bound.
        fn from_where(b: &mut QueryBuilder<Postgres>, q: &VulnQuery) {
            b.push(
                " FROM scan_findings f
                 JOIN scan_reports s ON s.digest = f.digest AND s.status = 'Success'
                 JOIN manifests m ON m.digest = f.digest AND m.subject IS NULL
                 JOIN repositories r ON r.id = m.repository_id
                 WHERE true",
            );
            if let Some(v) = &q.cve_id {
                b.push(" AND f.vuln_id = ").push_bind(v.as_str());
            }
            if let Some(v) = q.severity {
                b.push(" AND f.severity = ").push_bind(severity_rank(v));
            }
            if let Some(v) = &q.package {
                b.push(" AND f.package = ").push_bind(v.as_str());
            }
            if let Some(v) = q.project_id {
                b.push(" AND r.project_id = ").push_bind(v);
            }
            if let Some(ids) = &q.project_ids {
                b.push(" AND r.project_id = ANY(")
                    .push_bind(ids.clone())
                    .push(")");
            }
            if let Some(v) = &q.repository {
                b.push(" AND r.name = ").push_bind(v.as_str());
            }
            if let Some(v) = &q.tag {
                b.push(
                    " AND EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id AND t.name = ",
                )
                .push_bind(v.as_str())
                .push(")");
            }
            if let Some(v) = &q.digest {
                b.push(" AND f.digest = ").push_bind(v.as_str());
            }
            if let Some((lo, hi)) = q.cvss_v3 {
                b.push(" AND f.cvss_v3 BETWEEN ")
                    .push_bind(lo)
                    .push(" AND ")
                    .push_bind(hi);
            }
        }
        let mut page_q = QueryBuilder::new(
            "SELECT r.project_id, r.name AS repository, m.id AS manifest_id, f.digest, f.vuln_id,
                    f.severity, f.cvss_v3, f.package, f.version, f.fixed_version, f.status,
                    coalesce((SELECT v.description FROM vulnerabilities v WHERE v.id = f.vuln_id), '') AS description,
                    coalesce((SELECT v.links FROM vulnerabilities v WHERE v.id = f.vuln_id), '[]') AS links",
        );
        from_where(&mut page_q, q);
        page_q
            .push(" ORDER BY f.digest, f.vuln_id, f.package, f.version, r.name LIMIT ")
            .push_bind(page.page_size as i64)
            .push(" OFFSET ")
            .push_bind(page.offset());
        let rows = page_q.build().fetch_all(&self.read).await?;
        let mut count_q = QueryBuilder::new("SELECT count(*) AS n FROM (SELECT 1");
        from_where(&mut count_q, q);
        if let Some(limit) = count_limit {
            count_q.push(" LIMIT ").push_bind(limit as i64 + 1);
        }
        count_q.push(") c");
        let n: i64 = count_q.build().fetch_one(&self.read).await?.try_get("n")?;
        let total = match count_limit {
            Some(limit) if n as u64 > limit => -1,
            _ => n,
        };
        let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
        if with_tags && !rows.is_empty() {
            let ids: Vec<i64> = rows
                .iter()
                .map(|r| r.try_get("manifest_id"))
                .collect::<Result<_, _>>()?;
            let tag_rows = sqlx::query(
                "SELECT manifest_id, name FROM tags
                 WHERE manifest_id IN (SELECT value::BIGINT FROM jsonb_array_elements_text($1::jsonb)) ORDER BY name",
            )
            .bind(serde_json::to_string(&ids).unwrap_or_default())
            .fetch_all(&self.read)
            .await?;
            for t in &tag_rows {
                tags.entry(t.try_get("manifest_id")?)
                    .or_default()
                    .push(t.try_get("name")?);
            }
        }
        let items = rows
            .iter()
            .map(|r| {
                let links: String = r.try_get("links")?;
                let fixed: String = r.try_get("fixed_version")?;
                let manifest_id: i64 = r.try_get("manifest_id")?;
                Ok(VulnItem {
                    project_id: r.try_get("project_id")?,
                    repository: r.try_get("repository")?,
                    digest: r.try_get("digest")?,
                    tags: tags.get(&manifest_id).cloned().unwrap_or_default(),
                    vuln_id: r.try_get("vuln_id")?,
                    severity: severity_of_rank(r.try_get("severity")?),
                    cvss_v3: r.try_get("cvss_v3")?,
                    package: r.try_get("package")?,
                    version: r.try_get("version")?,
                    fixed_version: Some(fixed).filter(|f| !f.is_empty()),
                    status: r.try_get("status")?,
                    description: r.try_get("description")?,
                    links: serde_json::from_str(&links).unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((items, total))
    }

    async fn security_summary(&self, dangerous: bool) -> Result<SecuritySummary> {
        // Counted from each digest's stored summary (one row per digest) times the
        // artifacts holding it, not from the findings (a row per finding).
        let mut summary = SecuritySummary::default();
        let counts = sqlx::query(
            "SELECT coalesce(sum(a.n), 0)::BIGINT AS artifacts,
                    coalesce(sum(CASE WHEN s.digest IS NULL THEN 0 ELSE a.n END), 0)::BIGINT AS scanned,
                    coalesce(sum((s.summary::jsonb ->> 'total')::BIGINT * a.n), 0)::BIGINT AS total,
                    coalesce(sum((s.summary::jsonb ->> 'fixable')::BIGINT * a.n), 0)::BIGINT AS fixable
             FROM (SELECT m.digest, count(*) AS n FROM manifests m
                   WHERE m.subject IS NULL GROUP BY m.digest) a
             LEFT JOIN scan_reports s ON s.digest = a.digest AND s.status = 'Success'",
        )
        .fetch_one(&self.read)
        .await?;
        summary.artifacts = counts.try_get::<i64, _>("artifacts")? as u64;
        summary.scanned = counts.try_get::<i64, _>("scanned")? as u64;
        summary.total = counts.try_get::<i64, _>("total")? as u64;
        summary.fixable = counts.try_get::<i64, _>("fixable")? as u64;
        let by = sqlx::query(
            "SELECT j.key AS severity, sum(j.value::BIGINT * a.n)::BIGINT AS n
             FROM (SELECT m.digest, count(*) AS n FROM manifests m
                   WHERE m.subject IS NULL GROUP BY m.digest) a
             JOIN scan_reports s ON s.digest = a.digest AND s.status = 'Success'
             CROSS JOIN LATERAL jsonb_each_text(s.summary::jsonb -> 'by_severity') j
             GROUP BY j.key",
        )
        .fetch_all(&self.read)
        .await?;
        for r in &by {
            let name: String = r.try_get("severity")?;
            let level = name
                .parse::<Severity>()
                .map_err(|e| MetadataError::Corrupt(format!("scan summary severity: {e}")))?;
            *summary.by_severity.entry(level).or_default() += r.try_get::<i64, _>("n")? as u64;
        }
        if !dangerous {
            return Ok(summary);
        }
        // The highest-scored critical ids that some artifact still has: candidates in
        // score order from the small per-id table, each checked through the id index.
        let cves = sqlx::query(
            "SELECT * FROM (
               SELECT v.id, v.severity, v.cvss_v3, v.description,
                      (SELECT f.package || chr(1) || f.version FROM scan_findings f
                       JOIN scan_reports s ON s.digest = f.digest AND s.status = 'Success'
                       JOIN manifests m ON m.digest = f.digest AND m.subject IS NULL
                       WHERE f.vuln_id = v.id LIMIT 1) AS seen
               FROM vulnerabilities v WHERE v.severity = $1) c
             WHERE c.seen IS NOT NULL
             ORDER BY c.cvss_v3 DESC NULLS LAST, c.id LIMIT 5",
        )
        .bind(severity_rank(Severity::Critical))
        .fetch_all(&self.read)
        .await?;
        for r in &cves {
            let seen: String = r.try_get("seen")?;
            // chr(1): PostgreSQL's text cannot hold SQLite's NUL separator.
            let (package, version) = seen.split_once('\u{1}').unwrap_or((&seen, ""));
            summary.dangerous_cves.push(DangerousCve {
                vuln_id: r.try_get("id")?,
                severity: severity_of_rank(r.try_get("severity")?),
                cvss_v3: r.try_get("cvss_v3")?,
                description: r.try_get("description")?,
                package: package.to_string(),
                version: version.to_string(),
            });
        }
        let arts = sqlx::query(
            "SELECT * FROM (
               SELECT r.project_id, r.name AS repository, m.digest,
                      coalesce((s.summary::jsonb #>> '{by_severity,CRITICAL}')::BIGINT, 0) AS critical,
                      coalesce((s.summary::jsonb #>> '{by_severity,HIGH}')::BIGINT, 0) AS high,
                      coalesce((s.summary::jsonb #>> '{by_severity,MEDIUM}')::BIGINT, 0) AS medium
               FROM scan_reports s
               JOIN manifests m ON m.digest = s.digest AND m.subject IS NULL
               JOIN repositories r ON r.id = m.repository_id
               WHERE s.status = 'Success') c
             WHERE (c.critical + c.high + c.medium) > 0
             ORDER BY c.critical DESC, c.high DESC, c.medium DESC, c.repository, c.digest LIMIT 5",
        )
        .fetch_all(&self.read)
        .await?;
        for r in &arts {
            summary.dangerous_artifacts.push(DangerousArtifact {
                project_id: r.try_get("project_id")?,
                repository: r.try_get("repository")?,
                digest: r.try_get("digest")?,
                critical: r.try_get::<i64, _>("critical")? as u64,
                high: r.try_get::<i64, _>("high")? as u64,
                medium: r.try_get::<i64, _>("medium")? as u64,
            });
        }
        Ok(summary)
    }

    async fn scannable_artifacts(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String, Digest)>> {
        let rows = sqlx::query(
            "SELECT m.id, r.name AS repository, m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id
             WHERE m.id > $1 AND m.subject IS NULL AND m.media_type IN ($2, $3) ORDER BY m.id LIMIT $4",
        )
        .bind(after)
        .bind(crate::manifest::OCI_MANIFEST)
        .bind(crate::manifest::DOCKER_MANIFEST)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("repository")?,
                    parse_digest(r.try_get("digest")?)?,
                ))
            })
            .collect()
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn save_cve_export(&self, job_id: i64, csv: &[u8], rows: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO cve_exports (job_id, csv, rows, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (job_id) DO UPDATE SET csv = excluded.csv, rows = excluded.rows,
                 created_at = excluded.created_at",
        )
        .bind(job_id)
        .bind(csv)
        .bind(rows)
        .bind(super::now())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn cve_export(&self, job_id: i64) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT csv FROM cve_exports WHERE job_id = $1")
                .bind(job_id)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn cve_exports_present(&self, job_ids: &[i64]) -> Result<Vec<i64>> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q =
            QueryBuilder::<Postgres>::new("SELECT job_id FROM cve_exports WHERE job_id IN (");
        let mut list = q.separated(", ");
        for id in job_ids {
            list.push_bind(*id);
        }
        q.push(") ORDER BY job_id");
        Ok(q.build_query_scalar().fetch_all(&self.read).await?)
    }

    async fn prune_cve_exports(&self, before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM cve_exports WHERE created_at < $1")
            .bind(before)
            .execute(&self.write)
            .await?
            .rows_affected())
    }
}
