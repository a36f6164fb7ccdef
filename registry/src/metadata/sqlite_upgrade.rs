//! Opening a database an older Wharf wrote: the missing migrations apply to
//! its data, and the data reads back through the store as if it were new.

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::identity::PageReq;
use super::sqlite::MIGRATOR;
use super::{IdentityStore, MetadataStore, SqliteMetadata};
use crate::digest::Digest;
use crate::names::RepoName;

/// A database at `path` with the migrations up to `version` only, as an older
/// Wharf left it; the caller writes its data the old way, then opens it.
async fn old_database(path: &std::path::Path, version: i64) -> sqlx::SqlitePool {
    let old = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .foreign_keys(true),
        )
        .await
        .unwrap();
    MIGRATOR.run_to(version, &old).await.unwrap();
    old
}

/// The schema before repositories named their project by id.
const BEFORE_PROJECT_ID: i64 = 3;

#[tokio::test]
async fn repositories_of_an_old_database_get_their_project_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wharf.db");
    let old = old_database(&path, BEFORE_PROJECT_ID).await;
    let has_column: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pragma_table_info('repositories') WHERE name = 'project_id'",
    )
    .fetch_one(&old)
    .await
    .unwrap();
    assert_eq!(has_column, 0, "the old schema");

    // Data as the old code wrote it: `a_b` and `axb` differ where LIKE's `_`
    // matched anything; `nobody` has no project yet; `alpine` has no segment.
    let content = br#"{"schemaVersion":2}"#;
    let digest = Digest::sha256_of(content);
    let layer = Digest::sha256_of(b"layer");
    sqlx::raw_sql(
        "INSERT INTO projects (name, public, created_at) VALUES ('a_b', 0, 1), ('axb', 0, 1);
         INSERT INTO repositories (name, created_at) VALUES
           ('library/alpine', 1), ('a_b/app', 1), ('a_b/team/app', 1), ('axb/secret', 1),
           ('nobody/x', 1), ('alpine', 1);",
    )
    .execute(&old)
    .await
    .unwrap();
    sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES (?, 1000, 1)")
        .bind(layer.to_string())
        .execute(&old)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at)
         SELECT id, ?, 'application/vnd.oci.image.manifest.v1+json', ?, ?, 1 FROM repositories WHERE name = 'axb/secret'",
    )
    .bind(digest.to_string())
    .bind(content.len() as i64)
    .bind(&content[..])
    .execute(&old)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO manifest_references (manifest_id, kind, digest) SELECT id, 'blob', ? FROM manifests",
    )
    .bind(layer.to_string())
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let store = SqliteMetadata::open(&path).await.unwrap();
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT r.name, p.name FROM repositories r LEFT JOIN projects p ON p.id = r.project_id ORDER BY r.name",
    )
    .fetch_all(&store.read)
    .await
    .unwrap();
    let owned = |r: &str, p: Option<&str>| (r.to_string(), p.map(str::to_string));
    assert_eq!(
        rows,
        [
            owned("a_b/app", Some("a_b")),
            owned("a_b/team/app", Some("a_b")),
            owned("alpine", None),
            owned("axb/secret", Some("axb")),
            owned("library/alpine", Some("library")),
            owned("nobody/x", None),
        ]
    );
    let indexed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'repositories_by_project'",
    )
    .fetch_one(&store.read)
    .await
    .unwrap();
    assert_eq!(indexed, 1);

    // Through the store: counts, listings, the migrated manifest and its size.
    let page = PageReq {
        page: 1,
        page_size: 10,
    };
    let a_b = store.project_by_name("a_b").await.unwrap().unwrap();
    assert_eq!(a_b.repo_count, 2);
    let (repos, n) = store.list_project_repositories("axb", page).await.unwrap();
    assert_eq!((repos[0].name.as_str(), n), ("axb/secret", 1));
    let secret = RepoName::parse("axb/secret").unwrap();
    let art = store.artifact(&secret, &digest).await.unwrap().unwrap();
    assert_eq!(art.size, content.len() as u64 + 1000);
    // A project created later adopts what was pushed before it.
    store.create_project("nobody", false, None).await.unwrap();
    let (repos, n) = store
        .list_project_repositories("nobody", page)
        .await
        .unwrap();
    assert_eq!((repos[0].name.as_str(), n), ("nobody/x", 1));
}

/// The schema before scan reports were stored as typed findings.
const BEFORE_TYPED_REPORTS: i64 = 4;

#[tokio::test]
async fn harbor_shaped_reports_of_an_old_database_are_rescanned() {
    use super::SecurityStore;
    use super::security::ScanStatus;
    use wharf_scanner::Severity;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wharf.db");
    let old = old_database(&path, BEFORE_TYPED_REPORTS).await;
    // As the old code wrote them: a success with Harbor's rendered report, and a
    // failed scan with none.
    let (scanned, failed) = (Digest::sha256_of(b"scanned"), Digest::sha256_of(b"failed"));
    sqlx::query(
        "INSERT INTO scan_reports (digest, repository, status, severity, summary, report, db_version, requested_at, started_at, ended_at)
         VALUES (?, 'library/app', 'Success', 'High', ?, ?, 'v1', 1, 2, 3),
                (?, 'library/app', 'Error', NULL, NULL, NULL, NULL, 1, 2, 3)",
    )
    .bind(scanned.to_string())
    .bind(r#"{"total":3,"fixable":1,"summary":{"High":1,"Low":2}}"#)
    .bind(r#"{"severity":"High","vulnerabilities":[{"id":"CVE-2023-1","package":"zlib1g"}]}"#)
    .bind(failed.to_string())
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let store = SqliteMetadata::open(&path).await.unwrap();
    let rec = store.scan(&scanned).await.unwrap().unwrap();
    assert_eq!(rec.status, ScanStatus::Pending, "queued again");
    assert_eq!(
        rec.severity,
        Some(Severity::High),
        "old severity still reads"
    );
    let summary = rec.summary.expect("old summary still reads");
    assert_eq!((summary.total, summary.fixable), (3, 1));
    assert_eq!(
        summary.by_severity.into_iter().collect::<Vec<_>>(),
        [(Severity::Low, 2), (Severity::High, 1)]
    );
    assert!(store.scan_report(&scanned).await.unwrap().is_none());
    assert_eq!(
        store
            .unfinished_scans(crate::metadata::security::ScanStatus::Pending, 10)
            .await
            .unwrap(),
        [(scanned, "library/app".to_string())],
        "the scan service resumes it on start"
    );
    let rec = store.scan(&failed).await.unwrap().unwrap();
    assert_eq!(rec.status, ScanStatus::Error, "nothing to redo");
}

/// The schema before scan-all moved onto the job queue.
const BEFORE_SCAN_ALL_JOBS: i64 = 11;

#[tokio::test]
async fn the_scan_all_schedule_moves_to_the_job_queue() {
    use super::lifecycle::JobStore;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wharf.db");
    let old = old_database(&path, BEFORE_SCAN_ALL_JOBS).await;
    sqlx::query("INSERT INTO settings (key, value) VALUES ('scan_all_schedule', ?)")
        .bind(r#"{"type":"Custom","cron":"0 30 2 * * *"}"#)
        .execute(&old)
        .await
        .unwrap();
    old.close().await;

    let store = SqliteMetadata::open(&path).await.unwrap();
    let s = store.schedule("scan_all").await.unwrap().expect("moved");
    assert_eq!(
        (s.schedule_type.as_str(), s.cron.as_str()),
        ("Custom", "0 30 2 * * *")
    );
    assert!(
        s.next_run_at.is_some(),
        "fires at the next start, then by its cron"
    );
    let left: Option<String> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'scan_all_schedule'")
            .fetch_optional(&store.read)
            .await
            .unwrap();
    assert!(left.is_none());
}
