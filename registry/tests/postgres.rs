//! The stores' conformance suites on PostgreSQL: the same functions
//! `tests/conformance.rs` runs on SQLite, each on a fresh database of one
//! private PostgreSQL server (see `support/postgres.rs`; `WHARF_TEST_POSTGRES`
//! names an existing server instead).

#[path = "support/postgres.rs"]
mod pg;

use wharf_registry::metadata::{PgMetadata, PgOptions, conformance};

/// A new, migrated database.
async fn postgres() -> PgMetadata {
    let url = pg::fresh_database();
    PgMetadata::connect(&url, &PgOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn postgres_content() {
    conformance::run(&postgres().await).await;
}

#[tokio::test]
async fn postgres_identity() {
    conformance::run_identity(&postgres().await).await;
}

#[tokio::test]
async fn postgres_projects() {
    let store = postgres().await;
    conformance::run_projects(&store, &store).await;
}

#[tokio::test]
async fn postgres_security() {
    let store = postgres().await;
    conformance::run_security(&store, &store, &store).await;
}

#[tokio::test]
async fn postgres_cve_exports() {
    let store = postgres().await;
    conformance::run_cve_exports(&store, &store).await;
}

#[tokio::test]
async fn postgres_jobs() {
    conformance::run_jobs(&postgres().await).await;
}

#[tokio::test]
async fn postgres_tag_rules() {
    let store = postgres().await;
    conformance::run_tag_rules(&store, &store, &store).await;
}

#[tokio::test]
async fn postgres_replication() {
    conformance::run_replication(&postgres().await).await;
}

#[tokio::test]
async fn postgres_proxy() {
    let store = postgres().await;
    conformance::run_proxy(&store, &store, &store).await;
}

#[tokio::test]
async fn postgres_gc_partial_index() {
    let store = postgres().await;
    conformance::run_gc_partial_index(&store, &store, &store, &store).await;
}

#[tokio::test]
async fn postgres_gc() {
    let store = postgres().await;
    conformance::run_gc(&store, &store).await;
}

#[tokio::test]
async fn postgres_oidc() {
    let store = postgres().await;
    conformance::run_oidc(&store, &store).await;
}

#[tokio::test]
async fn postgres_sessions() {
    let store = postgres().await;
    conformance::run_sessions(&store, &store).await;
}

#[tokio::test]
async fn postgres_labels() {
    let store = postgres().await;
    conformance::run_labels(&store, &store, &store).await;
}

/// Replicas starting together on one empty database: the migrations run once
/// (under PostgreSQL's advisory lock), and each replica sees the same schema.
#[tokio::test]
async fn replicas_migrate_one_database_once() {
    let url = pg::fresh_database();
    let options = PgOptions::default();
    let (a, b, c) = tokio::join!(
        PgMetadata::connect(&url, &options),
        PgMetadata::connect(&url, &options),
        PgMetadata::connect(&url, &options),
    );
    let (a, b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
    use wharf_registry::metadata::IdentityStore;
    // A project created through one is seen through another.
    let id = a.create_project("shared", false, None).await.unwrap();
    assert!(id.is_some());
    let seen = b.project_by_name("shared").await.unwrap().unwrap();
    assert_eq!(Some(seen.id), id);
}

/// A database a newer Wharf migrated (one more migration than this binary has)
/// is refused at connect with an error that says so.
#[tokio::test]
async fn a_database_migrated_by_a_newer_version_is_refused() {
    let url = pg::fresh_database();
    drop(
        PgMetadata::connect(&url, &PgOptions::default())
            .await
            .unwrap(),
    );
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99999, 'from the future', true, '\\x00', 0)",
    )
    .execute(&mut db)
    .await
    .unwrap();
    conformance::assert_newer_schema(
        PgMetadata::connect(&url, &PgOptions::default()).await,
        99999,
    );
}

/// A URL that names no reachable server is an error at connect, not a hang.
#[tokio::test]
async fn unreachable_database_is_an_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://wharf@127.0.0.1:{port}/nothing?connect_timeout=2");
    let err = PgMetadata::connect(&url, &PgOptions::default())
        .await
        .err()
        .expect("no server listens there");
    assert!(err.to_string().contains("database"), "{err}");
}

/// What one replica announces, every replica on the database hears (the
/// announcer too), in order; a payload of a later version is skipped.
#[tokio::test]
async fn replicas_hear_each_others_changes() {
    use wharf_registry::metadata::changes::{Change, ChangeFeed, Heard};
    let url = pg::fresh_database();
    let a = PgMetadata::connect(&url, &PgOptions::default())
        .await
        .unwrap();
    let b = PgMetadata::connect(&url, &PgOptions::default())
        .await
        .unwrap();
    let mut on_a = a
        .listen()
        .await
        .unwrap()
        .expect("PostgreSQL can be listened to");
    let mut on_b = b.listen().await.unwrap().unwrap();
    // Another version's change: not understood, not an error.
    let raw = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("NOTIFY wharf_changes, 'something-new'")
        .execute(&raw)
        .await
        .unwrap();
    b.announce(Change::Credentials).await.unwrap();
    a.announce(Change::Configurations).await.unwrap();
    let within = std::time::Duration::from_secs(30);
    for listener in [&mut on_a, &mut on_b] {
        for want in [Change::Credentials, Change::Configurations] {
            let got = tokio::time::timeout(within, listener.next())
                .await
                .expect("a notification within 30 s")
                .unwrap();
            assert_eq!(got, Heard::Change(want));
        }
    }
}
