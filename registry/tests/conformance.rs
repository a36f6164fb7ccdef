//! The stores' conformance suites, run from outside the crate through the
//! public API only, exactly as a second backend (PostgreSQL, S3) will run them
//! from its own crate. Each section gets a fresh, empty store.

use wharf_registry::metadata::{SqliteMetadata, conformance};
use wharf_registry::storage::FsBlobStore;

/// A new SQLite database; the directory lives as long as the store is used.
async fn sqlite() -> (tempfile::TempDir, SqliteMetadata) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadata::open(&dir.path().join("wharf.db"))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn sqlite_content() {
    let (_dir, store) = sqlite().await;
    conformance::run(&store).await;
}

#[tokio::test]
async fn sqlite_identity() {
    let (_dir, store) = sqlite().await;
    conformance::run_identity(&store).await;
}

#[tokio::test]
async fn sqlite_projects() {
    let (_dir, store) = sqlite().await;
    conformance::run_projects(&store, &store).await;
}

#[tokio::test]
async fn sqlite_security() {
    let (_dir, store) = sqlite().await;
    conformance::run_security(&store, &store, &store).await;
}

#[tokio::test]
async fn filesystem_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path(), true).await.unwrap();
    wharf_registry::storage::conformance::run(&store).await;
}

/// Two stores over one directory, as two processes on shared storage.
#[tokio::test]
async fn filesystem_blobs_shared_by_two_processes() {
    let dir = tempfile::tempdir().unwrap();
    let first = FsBlobStore::open(dir.path(), true).await.unwrap();
    let second = FsBlobStore::open(dir.path(), false).await.unwrap();
    wharf_registry::storage::conformance::run_shared(&first, &second).await;
}

#[tokio::test]
async fn sqlite_cve_exports() {
    let (_dir, store) = sqlite().await;
    conformance::run_cve_exports(&store, &store).await;
}

#[tokio::test]
async fn sqlite_jobs() {
    let (_dir, store) = sqlite().await;
    conformance::run_jobs(&store).await;
}

#[tokio::test]
async fn sqlite_tag_rules() {
    let (_dir, store) = sqlite().await;
    conformance::run_tag_rules(&store, &store, &store).await;
}

#[tokio::test]
async fn sqlite_replication() {
    let (_dir, store) = sqlite().await;
    conformance::run_replication(&store).await;
}

#[tokio::test]
async fn sqlite_proxy() {
    let (_dir, store) = sqlite().await;
    conformance::run_proxy(&store, &store, &store).await;
}

#[tokio::test]
async fn sqlite_gc_partial_index() {
    let (_dir, store) = sqlite().await;
    conformance::run_gc_partial_index(&store, &store, &store, &store).await;
}

#[tokio::test]
async fn sqlite_gc() {
    let (_dir, store) = sqlite().await;
    conformance::run_gc(&store, &store).await;
}

#[tokio::test]
async fn sqlite_oidc() {
    let (_dir, store) = sqlite().await;
    conformance::run_oidc(&store, &store).await;
}

#[tokio::test]
async fn sqlite_sessions() {
    let (_dir, store) = sqlite().await;
    conformance::run_sessions(&store, &store).await;
}

#[tokio::test]
async fn sqlite_labels() {
    let (_dir, store) = sqlite().await;
    conformance::run_labels(&store, &store, &store).await;
}

/// A database file a newer Wharf migrated is refused at open with an error
/// that says so.
#[tokio::test]
async fn a_database_migrated_by_a_newer_version_is_refused() {
    let (dir, store) = sqlite().await;
    drop(store);
    let path = dir.path().join("wharf.db");
    let url = format!("sqlite://{}", path.display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99999, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut db)
    .await
    .unwrap();
    conformance::assert_newer_schema(SqliteMetadata::open(&path).await, 99999);
}
