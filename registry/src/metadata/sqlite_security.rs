//! [`SecurityStore`] on SQLite.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::security::{
    Allowlist, ScanOutcome, ScanRecord, ScanStatus, SecurityStore, VulnerabilityReport,
};
use super::sqlite::{digest_list, parse_digest};
use super::{MetadataError, Result, SqliteMetadata, now};
use crate::digest::Digest;

/// Columns of a [`ScanRecord`] (a macro so queries stay `&'static str` for sqlx).
macro_rules! scan_columns {
    () => {
        "digest, repository, status, severity, summary, db_version, message, requested_at, started_at, ended_at"
    };
}

fn scan_row(r: &SqliteRow) -> Result<ScanRecord> {
    let status: String = r.try_get("status")?;
    let summary: Option<String> = r.try_get("summary")?;
    let severity: Option<String> = r.try_get("severity")?;
    Ok(ScanRecord {
        digest: parse_digest(r.try_get("digest")?)?,
        repository: r.try_get("repository")?,
        status: ScanStatus::parse(&status)
            .ok_or_else(|| MetadataError::Corrupt(format!("scan status {status:?}")))?,
        severity: severity
            .map(|s| {
                s.parse::<wharf_scanner::Severity>()
                    .map_err(|e| MetadataError::Corrupt(format!("scan severity: {e}")))
            })
            .transpose()?,
        summary: summary
            .map(|s| {
                serde_json::from_str(&s)
                    .map_err(|e| MetadataError::Corrupt(format!("scan summary: {e}")))
            })
            .transpose()?,
        db_version: r.try_get("db_version")?,
        message: r.try_get("message")?,
        requested_at: r.try_get("requested_at")?,
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
    })
}

fn allowlist_row(r: &SqliteRow) -> Result<Allowlist> {
    let items: String = r.try_get("items")?;
    Ok(Allowlist {
        items: serde_json::from_str(&items)
            .map_err(|e| MetadataError::Corrupt(format!("allow-list: {e}")))?,
        expires_at: r.try_get("expires_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

#[async_trait]
impl SecurityStore for SqliteMetadata {
    async fn project_metadata(&self, project_id: i64) -> Result<BTreeMap<String, String>> {
        let rows = sqlx::query("SELECT key, value FROM project_metadata WHERE project_id = ?")
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
        let rows = sqlx::query("SELECT project_id, key, value FROM project_metadata WHERE project_id IN (SELECT value FROM json_each(?))")
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
                "INSERT INTO project_metadata (project_id, key, value) VALUES (?, ?, ?)
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
            "SELECT items, expires_at, created_at, updated_at FROM cve_allowlists WHERE scope = ?",
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
        let rows = sqlx::query("SELECT scope, items, expires_at, created_at, updated_at FROM cve_allowlists WHERE scope IN (SELECT value FROM json_each(?))")
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
        sqlx::query("INSERT INTO cve_allowlists (scope, items, expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
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
            "INSERT INTO scan_reports (digest, repository, status, requested_at) VALUES (?, ?, 'Pending', ?)
             ON CONFLICT (digest) DO UPDATE SET repository = excluded.repository, status = 'Pending',
                 requested_at = excluded.requested_at, message = NULL
             WHERE scan_reports.status NOT IN ('Pending', 'Running')",
        )
        .bind(digest.to_string())
        .bind(repository)
        .bind(now())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn start_scan(&self, digest: &Digest) -> Result<bool> {
        let done = sqlx::query("UPDATE scan_reports SET status = 'Running', started_at = ? WHERE digest = ? AND status = 'Pending'")
            .bind(now())
            .bind(digest.to_string())
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn finish_scan(&self, digest: &Digest, o: ScanOutcome<'_>) -> Result<()> {
        fn json<T: serde::Serialize>(v: Option<&T>) -> Result<Option<String>> {
            v.map(|v| {
                serde_json::to_string(v)
                    .map_err(|e| MetadataError::Corrupt(format!("encoding a scan result: {e}")))
            })
            .transpose()
        }
        // A failed rescan keeps the previous report: the last good answer stays readable.
        sqlx::query(
            "UPDATE scan_reports SET status = ?, ended_at = ?, message = ?,
                 severity = coalesce(?, severity), summary = coalesce(?, summary),
                 report = coalesce(?, report), db_version = coalesce(?, db_version)
             WHERE digest = ?",
        )
        .bind(o.status.as_str())
        .bind(now())
        .bind(o.message)
        .bind(o.severity.map(|s| s.as_str()))
        .bind(json(o.summary)?)
        .bind(json(o.report)?)
        .bind(o.db_version)
        .bind(digest.to_string())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn scan(&self, digest: &Digest) -> Result<Option<ScanRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            scan_columns!(),
            " FROM scan_reports WHERE digest = ?"
        ))
        .bind(digest.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(scan_row).transpose()
    }

    async fn scan_report(&self, digest: &Digest) -> Result<Option<VulnerabilityReport>> {
        let report: Option<Option<String>> =
            sqlx::query_scalar("SELECT report FROM scan_reports WHERE digest = ?")
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
            " FROM scan_reports WHERE digest IN (SELECT value FROM json_each(?))"
        ))
        .bind(digest_list(digests))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| scan_row(r).map(|s| (s.digest.clone(), s)))
            .collect()
    }

    async fn unfinished_scans(&self) -> Result<Vec<(Digest, String)>> {
        let rows = sqlx::query("SELECT digest, repository FROM scan_reports WHERE status IN ('Pending', 'Running') ORDER BY requested_at")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_digest(r.try_get("digest")?)?,
                    r.try_get("repository")?,
                ))
            })
            .collect()
    }

    async fn scan_counts(&self) -> Result<BTreeMap<String, i64>> {
        let rows = sqlx::query("SELECT status, count(*) AS n FROM scan_reports GROUP BY status")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }

    async fn scannable_artifacts(&self) -> Result<Vec<(String, Digest)>> {
        let rows = sqlx::query(
            "SELECT r.name AS repository, m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id
             WHERE m.subject IS NULL AND m.media_type IN (?, ?) ORDER BY r.name, m.id",
        )
        .bind(crate::manifest::OCI_MANIFEST)
        .bind(crate::manifest::DOCKER_MANIFEST)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("repository")?,
                    parse_digest(r.try_get("digest")?)?,
                ))
            })
            .collect()
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
