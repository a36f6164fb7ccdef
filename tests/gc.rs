//! Garbage collection, scrub and the job queue through the real binary:
//! Harbor's `/system/gc` bodies field by field, what GC keeps (tags, index
//! children, signatures and SBOMs while their subject lives) and what it takes
//! (with exact byte counts the test computes from what it pushed), scrub
//! finding a corrupted file, a GC killed with SIGKILL taken over after its
//! lease, two servers on one database running each job once, and the CLI.

mod common;
mod gc_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::{Wharf, wharf_in};
use gc_support::{ADMIN, Blob, Image, Registry, SERVE_ARGS, blobs_on_disk, bytes};
use reqwest::Method;
use serde_json::{Value, json};

fn start(extra: &[&str]) -> Wharf {
    let mut args = vec!["--admin-password", ADMIN.1, "--gc-grace-period", "1"];
    args.extend_from_slice(extra);
    Wharf::start_with(&args)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

fn blob(seed: u64, len: usize) -> Blob {
    Blob::new(bytes(seed, len))
}

fn size_of<'a>(blobs: impl IntoIterator<Item = &'a Blob>) -> u64 {
    let mut seen = BTreeSet::new();
    blobs
        .into_iter()
        .filter(|b| seen.insert(b.digest.clone()))
        .map(|b| b.data.len() as u64)
        .sum()
}

/// `2026-01-02T03:04:05Z`
fn is_rfc3339(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 20 && s.ends_with('Z') && &s[4..5] == "-" && &s[10..11] == "T"
}

async fn head_status(reg: &Registry, repo: &str, what: &str, digest: &str) -> u16 {
    reqwest::Client::new()
        .head(format!("{}/v2/{repo}/{what}/{digest}", reg.base))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn gc_keeps_what_is_used_and_takes_the_rest_with_harbors_api() {
    let w = start(&[]);
    let reg = Registry::new(&w.host());
    rt().block_on(async {
        let repo = "library/app";
        let config = blob(1, 300);
        // A: tagged, signed twice (OCI referrer, cosign tag).
        let a = Image::new(config.clone(), vec![blob(2, 4000), blob(3, 1000)]);
        let a_ref = Image::with_subject(
            blob(4, 50),
            vec![blob(5, 700)],
            Some((a.digest.as_str(), a.manifest.len())),
        );
        let a_sig = Image::new(blob(6, 60), vec![blob(7, 800)]);
        // B: untagged (pushed by digest); shares A's config.
        let b = Image::new(config.clone(), vec![blob(8, 2000)]);
        // C: tagged, then untagged, with a referrer and a cosign signature.
        let c = Image::new(blob(9, 90), vec![blob(10, 3000), blob(2, 4000)]);
        let c_ref = Image::with_subject(
            blob(11, 40),
            vec![blob(12, 600)],
            Some((c.digest.as_str(), c.manifest.len())),
        );
        let c_sig = Image::new(blob(13, 70), vec![blob(14, 900)]);
        let loose = blob(15, 5000);

        reg.push(repo, "v1", &a).await.unwrap();
        reg.push(repo, &a_ref.digest, &a_ref).await.unwrap();
        let cosign = |d: &str| format!("sha256-{}.sig", d.trim_start_matches("sha256:"));
        reg.push(repo, &cosign(&a.digest), &a_sig).await.unwrap();
        reg.push(repo, &b.digest, &b).await.unwrap();
        reg.push(repo, "c", &c).await.unwrap();
        reg.push(repo, &c_ref.digest, &c_ref).await.unwrap();
        reg.push(repo, &cosign(&c.digest), &c_sig).await.unwrap();
        assert_eq!(reg.delete(&format!("/v2/{repo}/manifests/c")).await, 202);
        let up = reqwest::Client::new()
            .post(format!(
                "{}/v2/{repo}/blobs/uploads/?digest={}",
                reg.base, loose.digest
            ))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .body(loose.data.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(up.status(), 201);
        // Past the 1 s grace period.
        tokio::time::sleep(Duration::from_millis(2100)).await;

        // Dry run with delete_untagged: B, C, C's referrer and signature; blobs only they use, and `loose`.
        let only_dead = size_of(
            b.layers
                .iter()
                .chain(c.blobs().filter(|x| x.digest != a.layers[0].digest))
                .chain(c_ref.blobs())
                .chain(c_sig.blobs())
                .chain([&loose]),
        );
        let dry = reg
            .gc(json!({"dry_run": true, "delete_untagged": true}))
            .await;
        assert_eq!(dry["dry_run"], true);
        assert_eq!(dry["manifests_deleted"], 4, "{dry}");
        assert_eq!(dry["blobs_deleted"], 8, "{dry}");
        assert_eq!(dry["bytes_freed"], only_dead, "{dry}");
        assert_eq!(
            head_status(&reg, repo, "manifests", &b.digest).await,
            200,
            "a dry run deletes nothing"
        );
        assert_eq!(head_status(&reg, repo, "blobs", &loose.digest).await, 200);

        // Without delete_untagged: untagged images stay; only `loose` goes.
        let r = reg.gc(json!({"delete_untagged": false})).await;
        assert_eq!(
            (r["manifests_deleted"].as_u64(), r["blobs_deleted"].as_u64()),
            (Some(0), Some(1)),
            "{r}"
        );
        assert_eq!(r["bytes_freed"], loose.data.len() as u64);
        assert_eq!(head_status(&reg, repo, "blobs", &loose.digest).await, 404);
        assert_eq!(head_status(&reg, repo, "manifests", &b.digest).await, 200);

        // With it: what the dry run announced, minus `loose`.
        let r = reg.gc(json!({"delete_untagged": true})).await;
        assert_eq!(r["manifests_deleted"], 4, "{r}");
        assert_eq!(r["bytes_freed"], only_dead - loose.data.len() as u64, "{r}");
        for (img, alive) in [
            (&a, true),
            (&a_ref, true),
            (&a_sig, true),
            (&b, false),
            (&c, false),
            (&c_ref, false),
            (&c_sig, false),
        ] {
            let want = if alive { 200 } else { 404 };
            assert_eq!(
                head_status(&reg, repo, "manifests", &img.digest).await,
                want,
                "{}",
                img.digest
            );
        }
        // Everything A and its accessories need is there, byte for byte.
        let disk = blobs_on_disk(&w.data_dir);
        for x in a.blobs().chain(a_ref.blobs()).chain(a_sig.blobs()) {
            assert_eq!(
                disk.get(&x.digest),
                Some(&(x.data.len() as u64)),
                "{}",
                x.digest
            );
        }
        assert_eq!(disk.len(), 7, "nothing else is left: {disk:?}");

        // A client deletes A: its signatures go with it at the next GC, even without delete_untagged.
        assert_eq!(
            reg.delete(&format!("/v2/{repo}/manifests/{}", a.digest))
                .await,
            202
        );
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let r = reg.gc(json!({})).await;
        assert_eq!(r["manifests_deleted"], 2, "{r}");
        assert_eq!(
            r["bytes_freed"],
            size_of(a.blobs().chain(a_ref.blobs()).chain(a_sig.blobs())),
            "{r}"
        );
        assert!(blobs_on_disk(&w.data_dir).is_empty());

        // History: Harbor's GCHistory, newest first, with X-Total-Count.
        let resp = reqwest::Client::new()
            .get(format!(
                "{}/api/v2.0/system/gc?page=1&page_size=2",
                reg.base
            ))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["x-total-count"], "4");
        assert!(
            resp.headers()["link"]
                .to_str()
                .unwrap()
                .contains("rel=\"next\"")
        );
        let page: Value = resp.json().await.unwrap();
        let last = &page[0];
        let keys: BTreeSet<&str> = last
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "id",
                "job_name",
                "job_kind",
                "job_parameters",
                "schedule",
                "job_status",
                "deleted",
                "creation_time",
                "update_time"
            ])
        );
        assert!(last["id"].is_i64());
        assert_eq!(last["job_name"], "GARBAGE_COLLECTION");
        assert_eq!(last["job_kind"], "MANUAL");
        assert_eq!(last["job_status"], "Success");
        assert_eq!(last["deleted"], false);
        assert_eq!(last["schedule"]["type"], "Manual");
        assert!(
            is_rfc3339(&last["creation_time"]) && is_rfc3339(&last["update_time"]),
            "{last}"
        );
        let params: Value = serde_json::from_str(last["job_parameters"].as_str().unwrap()).unwrap();
        assert_eq!(params["delete_untagged"], false);
        assert_eq!(params["dry_run"], false);
        assert_eq!(params["manifests_deleted"], 2);
        let id = last["id"].as_i64().unwrap();
        assert_eq!(
            &reg.get_json(&format!("/api/v2.0/system/gc/{id}")).await,
            last
        );
        let (status, ct, log) = reg.get_text(&format!("/api/v2.0/system/gc/{id}/log")).await;
        assert_eq!((status, ct.as_str()), (200, "text/plain; charset=utf-8"));
        assert!(log.contains("deleted 2 manifests"), "{log}");
        // A GC run is a job too; a finished one cannot be stopped.
        let job = reg.get_json(&format!("/api/v2.0/jobs/{id}")).await;
        assert_eq!(
            (job["kind"].as_str(), job["attempts"].as_i64()),
            (Some("gc"), Some(1))
        );
        let r = reg
            .send_json(
                Method::PUT,
                &format!("/api/v2.0/system/gc/{id}"),
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), 409);
        let r = reg
            .send_json(
                Method::PUT,
                &format!("/api/v2.0/jobs/{id}"),
                &json!({"status": "Running"}),
            )
            .await;
        assert_eq!(r.status(), 400);
        assert_eq!(reg.get_text("/api/v2.0/system/gc/99999").await.0, 404);
    });
}

#[test]
fn gc_schedule_bodies_and_who_may_touch_them() {
    let w = start(&[]);
    let reg = Registry::new(&w.host());
    rt().block_on(async {
        let none = reg.get_json("/api/v2.0/system/gc/schedule").await;
        assert_eq!(none["schedule"]["type"], "None");
        assert_eq!(none["schedule"]["next_scheduled_time"], Value::Null);
        let body = json!({"schedule": {"type": "Custom", "cron": "0 0 2 * * *"},
            "parameters": {"delete_untagged": true, "dry_run": false}});
        let r = reg.send_json(Method::PUT, "/api/v2.0/system/gc/schedule", &body).await;
        assert_eq!(r.status(), 200);
        let s = reg.get_json("/api/v2.0/system/gc/schedule").await;
        assert_eq!(s["schedule"]["type"], "Custom");
        assert_eq!(s["schedule"]["cron"], "0 0 2 * * *");
        // Next 02:00:00 UTC.
        let next = s["schedule"]["next_scheduled_time"].as_str().unwrap();
        assert!(next.ends_with("T02:00:00Z"), "{next}");
        assert_eq!(s["parameters"], json!({"delete_untagged": true, "dry_run": false}));
        assert!(is_rfc3339(&s["creation_time"]));
        let r = reg.send_json(Method::POST, "/api/v2.0/system/gc/schedule", &json!({"schedule": {"type": "Daily"}})).await;
        assert_eq!(r.status(), 200);
        let s = reg.get_json("/api/v2.0/system/gc/schedule").await;
        assert_eq!((s["schedule"]["type"].as_str(), s["schedule"]["cron"].as_str()), (Some("Daily"), Some("0 0 0 * * *")));
        for bad in [json!({"schedule": {"type": "Custom", "cron": "every day"}}), json!({"schedule": {"type": "Sometimes"}}),
                    json!({"schedule": {"type": "Daily"}, "parameters": {"dry_run": "yes"}}), json!({})] {
            let r = reg.send_json(Method::PUT, "/api/v2.0/system/gc/schedule", &bad).await;
            assert_eq!(r.status(), 400, "{bad}");
        }
        let r = reg.send_json(Method::PUT, "/api/v2.0/system/gc/schedule", &json!({"schedule": {"type": "None"}})).await;
        assert_eq!(r.status(), 200);
        assert_eq!(reg.get_json("/api/v2.0/system/gc/schedule").await["schedule"]["next_scheduled_time"], Value::Null);

        // Only system administrators: a user is denied, anonymous asked to log in.
        let r = reg
            .send_json(Method::POST, "/api/v2.0/users", &json!({"username": "dev", "password": "Dev12345678", "email": "d@x.io", "realname": "D"}))
            .await;
        assert_eq!(r.status(), 201);
        let http = reqwest::Client::new();
        for path in ["/api/v2.0/system/gc", "/api/v2.0/system/gc/schedule", "/api/v2.0/jobs", "/api/v2.0/system/scrub"] {
            let as_dev = http.get(format!("{}{path}", reg.base)).basic_auth("dev", Some("Dev12345678")).send().await.unwrap();
            assert_eq!(as_dev.status(), 403, "{path}");
            let anon = http.get(format!("{}{path}", reg.base)).send().await.unwrap();
            assert_eq!(anon.status(), 401, "{path}");
        }
        let r = http
            .post(format!("{}/api/v2.0/system/gc/schedule", reg.base))
            .basic_auth("dev", Some("Dev12345678"))
            .json(&json!({"schedule": {"type": "Manual"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    });
}

/// Scrub re-hashes every blob: a file changed on disk is reported with the
/// repositories that use it, and quarantined on request (no longer served).
#[test]
fn scrub_finds_and_quarantines_a_corrupted_blob() {
    let w = start(&[]);
    let reg = Registry::new(&w.host());
    let rt = rt();
    let img = Image::new(blob(21, 100), vec![blob(22, 5000)]);
    rt.block_on(async {
        reg.push("library/one", "v1", &img).await.unwrap();
        reg.push("library/two", "v1", &img).await.unwrap();
    });
    let creds = [
        "--registry",
        &w.host(),
        "--insecure",
        "--username",
        ADMIN.0,
        "--password",
        ADMIN.1,
    ];
    let scrub = |extra: &[&str]| {
        let mut args = vec!["scrub", "--output", "json"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&creds);
        wharf_in(Path::new("."), &[], &args)
    };
    let clean = scrub(&[]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let job: Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(job["result"]["blobs_checked"], 2);
    assert_eq!(job["result"]["bytes_checked"], 5100);
    assert_eq!(job["result"]["manifests_checked"], 2);
    assert_eq!(job["result"]["corrupt"], json!([]));

    // Flip one byte of the layer's file.
    let layer = &img.layers[0];
    let hex = layer.digest.trim_start_matches("sha256:");
    let path = w.data_dir.join(format!("blobs/sha256/{}/{hex}", &hex[..2]));
    let mut data = std::fs::read(&path).unwrap();
    data[100] ^= 0xff;
    std::fs::write(&path, &data).unwrap();
    let found = scrub(&[]);
    assert_eq!(
        found.status.code(),
        Some(1),
        "corrupt content is a failed check"
    );
    let job: Value = serde_json::from_slice(&found.stdout).unwrap();
    let corrupt = job["result"]["corrupt"].as_array().unwrap();
    assert_eq!(corrupt.len(), 1, "{job}");
    assert_eq!(corrupt[0]["digest"], layer.digest);
    assert_eq!(corrupt[0]["kind"], "blob");
    assert_eq!(
        corrupt[0]["problem"],
        format!("bytes hash to {}", gc_support::sha256(&data))
    );
    assert_eq!(
        corrupt[0]["repositories"],
        json!(["library/one", "library/two"])
    );
    assert_eq!(job["result"]["quarantined"], 0);

    let q = scrub(&["--quarantine"]);
    assert_eq!(q.status.code(), Some(1));
    let job: Value = serde_json::from_slice(&q.stdout).unwrap();
    assert_eq!(job["result"]["quarantined"], 1);
    assert!(!path.exists(), "moved aside");
    let kept: Vec<_> = std::fs::read_dir(w.data_dir.join("quarantine/sha256"))
        .unwrap()
        .collect();
    assert_eq!(kept.len(), 1);
    rt.block_on(async {
        assert_eq!(
            head_status(&reg, "library/one", "blobs", &layer.digest).await,
            404,
            "no longer served"
        );
        // Pushing the image again uploads good bytes; scrub is clean again.
        reg.push("library/one", "v1", &img).await.unwrap();
        assert_eq!(
            head_status(&reg, "library/one", "blobs", &layer.digest).await,
            200
        );
    });
    assert_eq!(scrub(&[]).status.code(), Some(0));
    let history = rt.block_on(reg.get_json("/api/v2.0/system/scrub"));
    assert_eq!(history.as_array().unwrap().len(), 4);
    assert_eq!(history[0]["job_name"], "SCRUB");
}

/// Pushes `n` blobs no manifest uses (GC's work), 16 at a time.
async fn fill_with_garbage(reg: &Registry, n: u64) {
    let http = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..16 {
        let (http, base) = (http.clone(), reg.base.clone());
        tasks.spawn(async move {
            for i in (chunk..n).step_by(16) {
                let b = blob(1000 + i, 64);
                let r = http
                    .post(format!(
                        "{base}/v2/library/junk/blobs/uploads/?digest={}",
                        b.digest
                    ))
                    .basic_auth(ADMIN.0, Some(ADMIN.1))
                    .body(b.data)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

/// kill -9 while GC runs: on restart the job is claimed again once its lease
/// has expired and completes; nothing needed is lost, nothing unused is left.
#[test]
fn a_gc_killed_mid_run_is_taken_over_after_its_lease_and_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let args = SERVE_ARGS;
    let mut w = Wharf::start_in(tmp.path(), &args);
    let rt = rt();
    let keep = Image::new(blob(31, 200), vec![blob(32, 3000)]);
    let id = rt.block_on(async {
        let reg = Registry::new(&w.host());
        reg.push("library/keep", "v1", &keep).await.unwrap();
        fill_with_garbage(&reg, 5000).await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let id = reg.start_gc(json!({"delete_untagged": true})).await;
        loop {
            let job = reg.get_json(&format!("/api/v2.0/jobs/{id}")).await;
            if job["status"] != "Pending" {
                assert_eq!(job["status"], "Running", "{job}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        id
    });
    w.kill9();
    let w = Wharf::start_in(tmp.path(), &args);
    rt.block_on(async {
        let reg = Registry::new(&w.host());
        let job = reg.wait_job(id, Duration::from_secs(120)).await;
        assert_eq!(job["status"], "Success", "{job}");
        assert_eq!(job["attempts"], 2, "claimed again after the crash: {job}");
        let log = reg.get_text(&format!("/api/v2.0/jobs/{id}/log")).await.2;
        assert_eq!(log.matches("started (attempt").count(), 2, "{log}");
        // Whatever the first attempt did, the second finished it: only `keep` is left.
        let disk = blobs_on_disk(&w.data_dir);
        let want: BTreeSet<String> = keep.blobs().map(|b| b.digest.clone()).collect();
        assert_eq!(disk.keys().cloned().collect::<BTreeSet<_>>(), want);
        // A later run finds nothing left over (no `deleting` rows, no files).
        let again = reg.gc(json!({"delete_untagged": true})).await;
        assert_eq!(
            (
                again["blobs_deleted"].as_u64(),
                again["manifests_deleted"].as_u64()
            ),
            (Some(0), Some(0)),
            "{again}"
        );
        assert_eq!(reg.all_tags().await.len(), 1);
    });
}

/// Two `wharf serve` processes on one data directory (one database): every
/// job runs once, whichever process takes it.
#[test]
fn two_servers_on_one_database_run_each_job_once() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--admin-password", ADMIN.1, "--gc-grace-period", "1"];
    let a = Wharf::start_in(tmp.path(), &args);
    let b = Wharf::start_in(tmp.path(), &args);
    rt().block_on(async {
        let (ra, rb) = (Registry::new(&a.host()), Registry::new(&b.host()));
        let mut ids = Vec::new();
        for i in 0..12 {
            let reg = if i % 2 == 0 { &ra } else { &rb };
            ids.push(reg.start_gc(json!({"dry_run": true})).await);
        }
        for id in ids {
            let job = ra.wait_job(id, Duration::from_secs(60)).await;
            assert_eq!(
                (job["status"].as_str(), job["attempts"].as_i64()),
                (Some("Success"), Some(1)),
                "{job}"
            );
            let log = rb.get_text(&format!("/api/v2.0/jobs/{id}/log")).await.2;
            assert_eq!(log.matches("started (attempt").count(), 1, "{log}");
        }
    });
    let (la, lb) = (a.log_text(), b.log_text());
    let ran = |log: &str| log.matches("dry run: would delete").count();
    assert_eq!(ran(&la) + ran(&lb), 12, "each job ran once in all");
}

/// `wharf gc run|history|schedule` and `wharf job` against a server.
#[test]
fn gc_and_job_verbs() {
    let w = start(&[]);
    let reg = Registry::new(&w.host());
    let img = Image::new(blob(41, 100), vec![blob(42, 1000)]);
    rt().block_on(async {
        reg.push("library/cli", "v1", &img).await.unwrap();
        assert_eq!(
            reg.delete(&format!("/v2/library/cli/manifests/{}", img.digest))
                .await,
            202
        );
    });
    std::thread::sleep(Duration::from_millis(2100));
    let host = w.host();
    let wharf = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&[
            "--registry",
            &host,
            "--insecure",
            "--username",
            ADMIN.0,
            "--password",
            ADMIN.1,
        ]);
        wharf_in(Path::new("."), &[], &all)
    };
    let dry = common::stdout_ok(&wharf(&["gc", "run", "--dry-run", "--output", "json"]));
    let job: Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(job["result"]["bytes_freed"], 1100);
    let table = common::stdout_ok(&wharf(&["gc", "run", "--grace-period", "1s"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "ID",
            "STATUS",
            "DRY",
            "RUN",
            "MANIFESTS",
            "BLOBS",
            "BYTES",
            "FREED"
        ]
    );
    assert_eq!(
        lines[1].split_whitespace().skip(1).collect::<Vec<_>>(),
        ["Success", "false", "0", "2", "1100"]
    );
    let history = common::stdout_ok(&wharf(&["gc", "history", "--output", "json"]));
    let history: Value = serde_json::from_str(&history).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 2);
    let id = history[0]["id"].as_i64().unwrap().to_string();
    let log = common::stdout_ok(&wharf(&["job", "log", &id]));
    assert!(log.contains("freed 1100 bytes"), "{log}");
    let listed: Value = serde_json::from_str(&common::stdout_ok(&wharf(&[
        "job", "list", "--kind", "gc", "--status", "Success", "--output", "json",
    ])))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let stop = wharf(&["job", "stop", &id]);
    assert_eq!(stop.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&stop.stderr).contains("409"),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    let sched = common::stdout_ok(&wharf(&[
        "gc",
        "schedule",
        "--cron",
        "0 30 3 * * *",
        "--delete-untagged",
        "--output",
        "json",
    ]));
    let sched: Value = serde_json::from_str(&sched).unwrap();
    assert_eq!(sched["schedule"]["cron"], "0 30 3 * * *");
    assert_eq!(sched["parameters"]["delete_untagged"], true);
    let bad = wharf(&["gc", "run", "--grace-period", "1y"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Real accessories made by the real clients (`wharf sign` in cosign's `.sig`
/// tag layout and as an OCI referrer, `wharf attest`'s `.att` tag, `wharf sbom
/// attach`'s referrer) survive GC while their subject is tagged, and go with it.
#[test]
fn signatures_attestations_and_sboms_live_and_die_with_their_subject() {
    let w = start(&[]);
    let reg = Registry::new(&w.host());
    let rt = rt();
    let x = Image::new(blob(51, 100), vec![blob(52, 2000)]);
    let y = Image::new(blob(53, 100), vec![blob(54, 3000)]);
    rt.block_on(async {
        reg.push("library/signed", "v1", &x).await.unwrap();
        reg.push("library/signed", "v2", &y).await.unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("docker")).unwrap();
    let auth = base64_auth();
    std::fs::write(
        d.join("docker/config.json"),
        json!({"auths": {w.host(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        d.join("prov.json"),
        r#"{"buildType":"https://example.com/ci"}"#,
    )
    .unwrap();
    let docker = d.join("docker");
    let env = [
        ("COSIGN_PASSWORD", "test-password"),
        ("WHARF_USERNAME", ADMIN.0),
        ("WHARF_PASSWORD", ADMIN.1),
        ("DOCKER_CONFIG", docker.to_str().unwrap()),
    ];
    let run = |args: &[&str]| common::stdout_ok(&wharf_in(d, &env, args));
    run(&["key", "generate"]);
    // An SPDX document of a real image, to attach.
    let spdx = d.join("sbom.spdx.json");
    run(&[
        "sbom",
        &common::oci_ref("pyapp", "v1"),
        "-o",
        spdx.to_str().unwrap(),
    ]);
    for tag in ["v1", "v2"] {
        let image = format!("{}/library/signed:{tag}", w.host());
        run(&["sign", "--insecure", "--key", "cosign.key", &image]);
        run(&[
            "sign",
            "--insecure",
            "--key",
            "cosign.key",
            "--referrers",
            &image,
        ]);
        run(&[
            "attest",
            "--insecure",
            "--key",
            "cosign.key",
            "--predicate",
            "prov.json",
            "--type",
            "slsaprovenance",
            &image,
        ]);
        run(&[
            "sbom",
            "attach",
            "--insecure",
            &image,
            "--sbom",
            spdx.to_str().unwrap(),
        ]);
    }
    // What the registry lists as Y's accessories: referrers, and cosign tags naming Y.
    let (y_referrers, y_tags) = rt.block_on(async {
        let refs = reg
            .get_json(&format!("/v2/library/signed/referrers/{}", y.digest))
            .await;
        let tags = reg.get_json("/v2/library/signed/tags/list").await;
        let prefix = format!("sha256-{}", y.digest.trim_start_matches("sha256:"));
        let y_tags: Vec<String> = tags["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| {
                t.as_str()
                    .filter(|t| t.starts_with(&prefix))
                    .map(str::to_string)
            })
            .collect();
        (refs["manifests"].as_array().unwrap().len(), y_tags)
    });
    assert!(
        y_referrers >= 2 && y_tags.len() >= 2,
        "{y_referrers} referrers, tags {y_tags:?}"
    );
    std::thread::sleep(Duration::from_millis(2100));
    rt.block_on(async {
        let r = reg.gc(json!({"delete_untagged": true})).await;
        assert_eq!(r["manifests_deleted"], 0, "everything signed is alive: {r}");
    });
    let verify = |tag: &str| {
        wharf_in(
            d,
            &env,
            &[
                "verify",
                "--insecure",
                "--key",
                "cosign.pub",
                &format!("{}/library/signed:{tag}", w.host()),
            ],
        )
        .status
        .code()
    };
    assert_eq!(verify("v1"), Some(0));
    assert_eq!(verify("v2"), Some(0));

    // Y loses its tag: Y and all its accessories go; X keeps all of its own.
    rt.block_on(async {
        assert_eq!(reg.delete("/v2/library/signed/manifests/v2").await, 202);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let r = reg.gc(json!({"delete_untagged": true})).await;
        assert_eq!(
            r["manifests_deleted"].as_u64(),
            Some(1 + y_referrers as u64 + y_tags.len() as u64),
            "{r}"
        );
        let tags = reg.get_json("/v2/library/signed/tags/list").await;
        let left: Vec<&str> = tags["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        assert!(
            left.iter().all(|t| !y_tags.iter().any(|y| y == t)),
            "{left:?}"
        );
        let refs = reg
            .get_json(&format!("/v2/library/signed/referrers/{}", y.digest))
            .await;
        assert_eq!(refs["manifests"], json!([]));
        let refs = reg
            .get_json(&format!("/v2/library/signed/referrers/{}", x.digest))
            .await;
        assert_eq!(
            refs["manifests"].as_array().unwrap().len(),
            y_referrers,
            "X keeps as many as Y had"
        );
    });
    assert_eq!(verify("v1"), Some(0));
    let fetched = wharf_in(
        d,
        &env,
        &[
            "sbom",
            "fetch",
            "--insecure",
            "--format",
            "spdx-json",
            &format!("{}/library/signed:v1", w.host()),
        ],
    );
    assert_eq!(
        common::stdout_ok(&fetched).as_bytes(),
        std::fs::read(&spdx).unwrap()
    );
}

fn base64_auth() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ADMIN.0, ADMIN.1))
}

/// Upload sessions abandoned past `--upload-expiry-hours` go at the next GC,
/// with their bytes.
#[test]
fn gc_removes_abandoned_upload_sessions() {
    let w = start(&["--upload-expiry-hours", "0"]);
    let reg = Registry::new(&w.host());
    rt().block_on(async {
        let http = reqwest::Client::new();
        let started = http
            .post(format!("{}/v2/library/up/blobs/uploads/", reg.base))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202);
        let location = started.headers()["location"].to_str().unwrap().to_string();
        let url = if location.starts_with("http") {
            location
        } else {
            format!("{}{location}", reg.base)
        };
        let chunk = http
            .patch(&url)
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("Content-Type", "application/octet-stream")
            .body(vec![7u8; 1000])
            .send()
            .await
            .unwrap();
        assert_eq!(chunk.status(), 202);
        let uploads = w.data_dir.join("uploads");
        assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 1);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = reg.gc(json!({})).await;
        assert_eq!(r["uploads_purged"], 1, "{r}");
        assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 0);
        let status = http
            .get(&url)
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .send()
            .await
            .unwrap();
        assert_eq!(status.status(), 404);
    });
}
