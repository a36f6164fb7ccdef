//! `wharf dev populate` (the scale benchmark's generator), at a tiny scale:
//! the registry it writes must be one clients can use as if the images had
//! been pushed. Every tag is pulled with skopeo (which checks every digest),
//! the counts are those asked for, a GC dry run (delete_untagged, past the
//! grace period) finds nothing to delete, and scrub finds every blob intact.

mod common;
#[path = "../registry/tests/support/postgres.rs"]
mod pg;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Wharf, curl, require, run, stdout_ok, wharf_in};
use serde_json::Value;

const PASSWORD: &str = "Populate123";

#[test]
fn a_populated_registry_is_what_pushes_would_have_made() {
    require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = wharf_in(
        Path::new("."),
        &[],
        &[
            "dev",
            "populate",
            "--data-dir",
            data.to_str().unwrap(),
            "--projects",
            "2",
            "--repos",
            "5",
            "--manifests",
            "10",
            "--tags",
            "30",
            "--big-repo-tags",
            "8",
            "--configs",
            "6",
            "--layers",
            "9",
        ],
    );
    stdout_ok(&out);

    let w = Wharf::start_in(
        tmp.path(),
        &["--admin-password", PASSWORD, "--gc-grace-period", "1"],
    );
    let creds = format!("admin:{PASSWORD}");
    let get = |path: &str| -> Value {
        let r = curl("GET", &w.url(path)).arg("-u").arg(&creds).send();
        assert_eq!(r.status, 200, "{path}");
        r.json()
    };
    let repos: Vec<String> =
        serde_json::from_value(get("/v2/_catalog")["repositories"].clone()).unwrap();
    assert_eq!(
        repos,
        ["p0/big", "p0/repo2", "p0/repo4", "p1/repo1", "p1/repo3"]
    );

    let mut tags = 0;
    let mut manifests = BTreeSet::new();
    let mut blobs = BTreeSet::new();
    for repo in &repos {
        let listed: Vec<String> =
            serde_json::from_value(get(&format!("/v2/{repo}/tags/list"))["tags"].clone()).unwrap();
        if repo == "p0/big" {
            assert_eq!(listed.len(), 8);
        }
        tags += listed.len();
        for tag in listed {
            let dest = pull(&w, &creds, repo, &tag, tmp.path());
            let index: Value =
                serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
            let digest = index["manifests"][0]["digest"]
                .as_str()
                .unwrap()
                .to_string();
            let hex = digest.trim_start_matches("sha256:");
            let manifest: Value = serde_json::from_slice(
                &std::fs::read(dest.join("blobs/sha256").join(hex)).unwrap(),
            )
            .unwrap();
            blobs.insert(manifest["config"]["digest"].as_str().unwrap().to_string());
            for l in manifest["layers"].as_array().unwrap() {
                blobs.insert(l["digest"].as_str().unwrap().to_string());
            }
            manifests.insert((repo.clone(), digest));
        }
    }
    assert_eq!(tags, 30);
    assert_eq!(manifests.len(), 10, "distinct images");

    // Past the grace period, nothing is garbage: every manifest is tagged and
    // every blob referenced.
    std::thread::sleep(Duration::from_millis(2100));
    let host = w.host();
    let admin = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&[
            "--registry",
            &host,
            "--insecure",
            "--username",
            "admin",
            "--password",
            PASSWORD,
        ]);
        wharf_in(Path::new("."), &[], &all)
    };
    let dry: Value = serde_json::from_str(&stdout_ok(&admin(&[
        "gc",
        "run",
        "--dry-run",
        "--delete-untagged",
        "--output",
        "json",
    ])))
    .unwrap();
    assert_eq!(dry["result"]["manifests_deleted"], 0, "{dry}");
    assert_eq!(dry["result"]["blobs_deleted"], 0, "{dry}");
    assert_eq!(dry["result"]["bytes_freed"], 0, "{dry}");

    let scrub: Value =
        serde_json::from_str(&stdout_ok(&admin(&["scrub", "--output", "json"]))).unwrap();
    assert_eq!(scrub["result"]["corrupt"], serde_json::json!([]), "{scrub}");
    assert_eq!(scrub["result"]["blobs_checked"], blobs.len(), "{scrub}");
    assert_eq!(scrub["result"]["manifests_checked"], 10, "{scrub}");
}

/// `--database` (here as `WHARF_DATABASE`, as `wharf serve` reads it): the
/// metadata goes to PostgreSQL, blobs to the data directory, and `wharf serve`
/// with the same database and directory serves every tag to skopeo. The fill
/// leaves the planner statistics behind (`VACUUM (ANALYZE)`: PostgreSQL counts
/// no rows for a table never analyzed).
#[test]
fn populate_fills_a_postgresql_registry() {
    require("skopeo");
    let server = pg::server();
    let db = server.create_database();
    let url = server.url(&db);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    stdout_ok(&wharf_in(
        Path::new("."),
        &[("WHARF_DATABASE", url.as_str())],
        &[
            "dev",
            "populate",
            "--data-dir",
            data.to_str().unwrap(),
            "--projects",
            "2",
            "--repos",
            "3",
            "--manifests",
            "4",
            "--tags",
            "6",
            "--big-repo-tags",
            "2",
            "--configs",
            "2",
            "--layers",
            "3",
        ],
    ));
    assert!(
        !data.join("wharf.db").exists(),
        "the metadata went to SQLite"
    );
    assert_eq!(server.query_in(&db, "SELECT count(*) FROM tags"), "6");
    assert_eq!(
        server.query_in(
            &db,
            "SELECT reltuples::BIGINT FROM pg_class WHERE relname = 'tags'"
        ),
        "6"
    );

    let w = Wharf::start_in(
        tmp.path(),
        &["--database", &url, "--admin-password", PASSWORD],
    );
    let creds = format!("admin:{PASSWORD}");
    let get = |path: &str| -> Value {
        let r = curl("GET", &w.url(path)).arg("-u").arg(&creds).send();
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    };
    // Repository r > 0 is p{r mod projects}/repo{r}; the first is p0/big.
    let repos: Vec<String> =
        serde_json::from_value(get("/v2/_catalog")["repositories"].clone()).unwrap();
    assert_eq!(repos, ["p0/big", "p0/repo2", "p1/repo1"]);
    let mut pulled = 0;
    for repo in &repos {
        let tags: Vec<String> =
            serde_json::from_value(get(&format!("/v2/{repo}/tags/list"))["tags"].clone()).unwrap();
        for tag in tags {
            pull(&w, &creds, repo, &tag, tmp.path());
            pulled += 1;
        }
    }
    assert_eq!(pulled, 6);
}

/// The batched writes (the default) and one push at a time through the
/// manifest PUT path (`--no-batch`) leave the same rows in every table: ids
/// replaced by what they name, and times only checked to fall within the run.
/// Small batches, so repositories, their links and tags span several.
#[test]
fn batched_writes_are_the_rows_pushes_write() {
    let tmp = tempfile::tempdir().unwrap();
    let shape = [
        "--projects",
        "3",
        "--repos",
        "12",
        "--manifests",
        "60",
        "--tags",
        "300",
        "--big-repo-tags",
        "40",
        "--configs",
        "10",
        "--layers",
        "9",
        "--batch",
        "7",
    ];
    let fill = |name: &str, extra: &[&str]| {
        let dir = tmp.path().join(name);
        let mut args = vec!["dev", "populate", "--data-dir", dir.to_str().unwrap()];
        args.extend_from_slice(&shape);
        args.extend_from_slice(extra);
        let from = unix_now();
        let out = wharf_in(Path::new("."), &[], &args);
        stdout_ok(&out);
        let dump = dump(&dir.join("wharf.db"), from, unix_now());
        (dump, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (batched, log) = fill("batched", &[]);
    let (pushed, _) = fill("pushed", &["--no-batch"]);
    assert!(!log.contains("webhook intake full"), "{log}");
    assert_eq!(
        batched.keys().collect::<Vec<_>>(),
        pushed.keys().collect::<Vec<_>>()
    );
    for (table, rows) in &pushed {
        let only_batched: Vec<_> = batched[table]
            .iter()
            .filter(|r| !rows.contains(r))
            .collect();
        let only_pushed: Vec<_> = rows
            .iter()
            .filter(|r| !batched[table].contains(r))
            .collect();
        assert!(
            only_batched.is_empty() && only_pushed.is_empty() && batched[table].len() == rows.len(),
            "table {table}: only batched {only_batched:?}, only pushed {only_pushed:?}"
        );
    }
    // Not vacuous: the shape asked for is there.
    assert_eq!(pushed["manifests"].len(), 60);
    assert_eq!(pushed["tags"].len(), 300);
    assert_eq!(pushed["repositories"].len(), 12);
    assert!(pushed["repository_blobs"].len() > pushed["blobs"].len());
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Every table's rows, sorted, as text: ids replaced by the names they stand
/// for (repository, project, `repository@digest` of a manifest), each `*_at`
/// time by `"run"` when it falls within [from, to] (else its value).
fn dump(db: &Path, from: i64, to: i64) -> std::collections::BTreeMap<String, Vec<String>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = std::collections::BTreeMap::new();
    for table in tables {
        let columns: Vec<(String, i64)> = conn
            .prepare(&format!(
                "SELECT name, pk FROM pragma_table_info('{table}')"
            ))
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let picked: Vec<String> = columns
            .iter()
            .filter(|(c, pk)| !(c == "id" && *pk == 1))
            .map(|(c, _)| match c.as_str() {
                "repository_id" => "(SELECT name FROM repositories WHERE id = repository_id)".to_string(),
                "project_id" => "(SELECT name FROM projects WHERE id = project_id)".to_string(),
                "manifest_id" => "(SELECT r.name || '@' || m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE m.id = manifest_id)".to_string(),
                c if c.ends_with("_at") => format!("CASE WHEN {c} BETWEEN {from} AND {to} THEN 'run' ELSE {c} END"),
                c => c.to_string(),
            })
            .map(|e| format!("quote({e})"))
            .collect();
        let sql = format!("SELECT {} FROM \"{table}\"", picked.join(" || '|' || "));
        let mut rows: Vec<String> = conn
            .prepare(&sql)
            .unwrap()
            .query_map([], |r| r.get::<_, Option<String>>(0))
            .unwrap()
            .map(|r| r.unwrap().unwrap_or_default())
            .collect();
        rows.sort();
        out.insert(table, rows);
    }
    out
}

/// `repo:tag` pulled with skopeo into a fresh OCI layout under `dir`, which it
/// returns; skopeo checks every blob's and the manifest's digest as it copies.
fn pull(w: &Wharf, creds: &str, repo: &str, tag: &str, dir: &Path) -> PathBuf {
    let dest = dir.join("pulled");
    let _ = std::fs::remove_dir_all(&dest);
    run(Command::new("skopeo").args([
        "--insecure-policy",
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--src-creds",
        creds,
        &format!("docker://{}/{repo}:{tag}", w.host()),
        &format!("oci:{}:x", dest.display()),
    ]));
    dest
}
