//! Tag retention through Harbor's API on a real server: images pushed with
//! hand-made push and pull times (written into the database with the server
//! stopped), each template dry-run and run, the kept set compared with what
//! the rule says, computed here from the pushed data; immutable tags survive;
//! executions and tasks listed with Harbor's fields.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use common::tag_rules::{
    ADMIN_PW, api, create_project, created_id, start_auth, wharf_cli, wharf_ok,
};
use common::{Wharf, curl, sha256};
use serde_json::{Value, json};

const DAY: i64 = 86_400;

/// One hand-made image: its tags, and how many days ago it was pushed and pulled.
struct Img {
    name: &'static str,
    tags: &'static [&'static str],
    pushed_days: i64,
    pulled_days: Option<i64>,
}

const IMAGES: &[Img] = &[
    Img {
        name: "a",
        tags: &["v1"],
        pushed_days: 40,
        pulled_days: Some(1),
    },
    Img {
        name: "b",
        tags: &["v2"],
        pushed_days: 30,
        pulled_days: None,
    },
    Img {
        name: "c",
        tags: &["v3", "stable"],
        pushed_days: 20,
        pulled_days: Some(8),
    },
    Img {
        name: "d",
        tags: &["dev-1"],
        pushed_days: 3,
        pulled_days: Some(2),
    },
    Img {
        name: "e",
        tags: &[],
        pushed_days: 2,
        pulled_days: None,
    },
    Img {
        name: "f",
        tags: &["v4"],
        pushed_days: 1,
        pulled_days: Some(30),
    },
];

fn push(w: &Wharf, repo: &str, seed: &str, tags: &[&str]) -> String {
    let auth = format!("admin:{ADMIN_PW}");
    let blob = |data: &[u8]| {
        let digest = sha256(data);
        let r = curl(
            "POST",
            &w.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")),
        )
        .arg("-u")
        .arg(&auth)
        .header("Content-Type", "application/octet-stream")
        .body(data.to_vec())
        .send();
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        (digest, data.len())
    };
    let (cd, cs) =
        blob(format!(r#"{{"architecture":"amd64","os":"linux","seed":"{seed}"}}"#).as_bytes());
    let (ld, ls) = blob(format!("layer of {seed}").as_bytes());
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}]
    })
    .to_string();
    let digest = sha256(manifest.as_bytes());
    let mut refs: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
    if refs.is_empty() {
        refs.push(digest.clone());
    }
    for r in refs {
        let resp = curl("PUT", &w.url(&format!("/v2/{repo}/manifests/{r}")))
            .arg("-u")
            .arg(&auth)
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest.clone())
            .send();
        assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    }
    digest
}

fn sql(db: &std::path::Path, statement: &str) {
    common::require("sqlite3");
    common::run(Command::new("sqlite3").arg(db).arg(statement));
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rule(template: &str, n: Option<i64>, tags: &str, untagged: bool, repos: &str) -> Value {
    json!({
        "disabled": false, "action": "retain", "template": template,
        "params": match n { Some(n) => json!({template: n}), None => json!({}) },
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": tags,
                           "extras": json!({"untagged": untagged}).to_string()}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repos}]}
    })
}

fn policy(project_id: i64, rules: Vec<Value>) -> Value {
    json!({"algorithm": "or", "rules": rules,
           "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
           "scope": {"level": "project", "ref": project_id}})
}

/// Run the policy and wait for its execution to end; its tasks.
fn execute(w: &Wharf, id: i64, dry_run: bool) -> (Value, Vec<Value>) {
    let eid = created_id(
        &api(w, "POST", &format!("/retentions/{id}/executions"))
            .body(json!({"dry_run": dry_run}).to_string())
            .send(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let exec = loop {
        let list = api(w, "GET", &format!("/retentions/{id}/executions"))
            .send()
            .json();
        let e = list
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == eid)
            .cloned()
            .unwrap();
        if ["Success", "Error", "Stopped"].contains(&e["status"].as_str().unwrap()) {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "execution {eid} did not end: {e}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(exec["status"], "Success", "{exec}");
    let tasks = api(
        w,
        "GET",
        &format!("/retentions/{id}/executions/{eid}/tasks"),
    )
    .send()
    .json();
    (exec, tasks.as_array().unwrap().clone())
}

/// digest → RETAIN/DELETE, from a task's log.
fn decisions(w: &Wharf, id: i64, task: &Value) -> BTreeMap<String, String> {
    let log = api(
        w,
        "GET",
        &format!(
            "/retentions/{id}/executions/{}/tasks/{}",
            task["execution_id"], task["id"]
        ),
    )
    .send();
    assert_eq!(log.status, 200);
    String::from_utf8_lossy(&log.body)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[1].to_string(),
                f[3].split_whitespace().next().unwrap().to_string(),
            )
        })
        .collect()
}

fn tags_of(w: &Wharf, repo: &str) -> BTreeSet<String> {
    let r = curl("GET", &w.url(&format!("/v2/{repo}/tags/list")))
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"))
        .send();
    r.json()["tags"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn each_template_keeps_what_it_says_and_immutable_tags_survive() {
    let mut w = start_auth(&[]);
    let dir = w.data_dir.parent().unwrap().to_path_buf();
    let pid = create_project(&w, "ret", json!({}));
    let digests: Vec<String> = IMAGES
        .iter()
        .map(|i| push(&w, "ret/app", i.name, i.tags))
        .collect();
    let other = push(&w, "ret/other", "g", &["v1"]);
    // The same images in one repository per template case, for its real run.
    for case in 0..6 {
        for i in IMAGES {
            push(&w, &format!("ret/case{case}"), i.name, i.tags);
        }
    }

    // Hand-made push and pull times, written with the server stopped.
    w.terminate();
    let t0 = now();
    let db = w.data_dir.join("wharf.db");
    for (img, d) in IMAGES.iter().zip(&digests) {
        let pulled = img
            .pulled_days
            .map(|p| (t0 - p * DAY).to_string())
            .unwrap_or("NULL".into());
        sql(
            &db,
            &format!(
                "UPDATE manifests SET created_at = {}, pulled_at = {pulled} WHERE digest = '{d}'",
                t0 - img.pushed_days * DAY
            ),
        );
    }
    let w = Wharf::start_env(&dir, &["--auth"], &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)]);

    let id = created_id(
        &api(&w, "POST", "/retentions")
            .body(policy(pid, vec![rule("always", None, "**", true, "**")]).to_string())
            .send(),
    );
    let project = api(&w, "GET", "/projects/ret").send().json();
    assert_eq!(project["metadata"]["retention_id"], id.to_string());
    let r = api(&w, "POST", "/retentions")
        .body(policy(pid, vec![]).to_string())
        .send();
    assert_eq!(r.status, 409, "one policy per project");

    // What each rule keeps, computed from the table above.
    let tagged = |i: &Img| !i.tags.is_empty();
    let by = |f: &dyn Fn(&Img) -> bool| -> BTreeSet<String> {
        IMAGES
            .iter()
            .zip(&digests)
            .filter(|(i, _)| f(i))
            .map(|(_, d)| d.clone())
            .collect()
    };
    let v_star = |i: &Img| i.tags.iter().any(|t| t.starts_with('v'));
    let newest_pushed = |k: usize, sel: &dyn Fn(&Img) -> bool| {
        let mut c: Vec<&Img> = IMAGES.iter().filter(|i| sel(i)).collect();
        c.sort_by_key(|i| i.pushed_days);
        let names: Vec<&str> = c.iter().take(k).map(|i| i.name).collect();
        by(&|i: &Img| names.contains(&i.name))
    };
    let newest_pulled = |n: usize| {
        // Never pulled counts as pulled longest ago (Harbor: pull time 0).
        let mut c: Vec<&Img> = IMAGES.iter().filter(|i| tagged(i)).collect();
        c.sort_by_key(|i| i.pulled_days.unwrap_or(i64::MAX));
        let names: Vec<&str> = c.iter().take(n).map(|i| i.name).collect();
        by(&|i: &Img| names.contains(&i.name))
    };
    let cases: Vec<(Vec<Value>, BTreeSet<String>)> = vec![
        (
            vec![rule("latestPushedK", Some(2), "v*", false, "**")],
            newest_pushed(2, &v_star),
        ),
        (
            vec![rule("latestPulledN", Some(4), "**", false, "**")],
            newest_pulled(4),
        ),
        (
            vec![rule("nDaysSinceLastPush", Some(10), "**", true, "**")],
            by(&|i: &Img| i.pushed_days <= 10),
        ),
        (
            vec![rule("nDaysSinceLastPull", Some(5), "**", false, "**")],
            by(&|i: &Img| tagged(i) && i.pulled_days.is_some_and(|p| p <= 5)),
        ),
        (
            vec![rule("always", None, "{dev-*,stable}", false, "**")],
            by(&|i: &Img| {
                i.tags
                    .iter()
                    .any(|t| t.starts_with("dev-") || *t == "stable")
            }),
        ),
        // Rules OR-combine.
        (
            vec![
                rule("latestPushedK", Some(1), "v*", false, "**"),
                rule("always", None, "dev-*", false, "**"),
            ],
            newest_pushed(1, &v_star)
                .union(&by(&|i: &Img| i.tags.contains(&"dev-1")))
                .cloned()
                .collect(),
        ),
    ];
    let before = tags_of(&w, "ret/app");
    let tags_kept = |keep: &BTreeSet<String>| -> BTreeSet<String> {
        IMAGES
            .iter()
            .zip(&digests)
            .filter(|(_, d)| keep.contains(*d))
            .flat_map(|(i, _)| i.tags.iter().map(|t| t.to_string()))
            .collect()
    };
    let outcome = |w: &Wharf, task: &Value, want: &str| -> BTreeSet<String> {
        decisions(w, id, task)
            .into_iter()
            .filter(|(_, o)| o == want)
            .map(|(d, _)| d)
            .collect()
    };
    assert_eq!(cases.len(), 6, "one repository per case");
    for (case, (mut rules, keep)) in cases.into_iter().enumerate() {
        let repo = format!("ret/case{case}");
        for r in &mut rules {
            r["scope_selectors"]["repository"][0]["pattern"] = json!(format!("case{case}"));
        }
        let r = api(&w, "PUT", &format!("/retentions/{id}"))
            .body(policy(pid, rules.clone()).to_string())
            .send();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        // Dry run: the decision, nothing deleted.
        let (exec, tasks) = execute(&w, id, true);
        assert_eq!(exec["dry_run"], true);
        assert_eq!(exec["trigger"], "MANUAL");
        assert_eq!(tasks.len(), 1, "only {repo} is in scope: {tasks:?}");
        assert_eq!(tasks[0]["repository"], repo.as_str());
        assert_eq!(outcome(&w, &tasks[0], "RETAIN"), keep, "rules {rules:?}");
        assert_eq!(
            outcome(&w, &tasks[0], "DELETE").len() + keep.len(),
            IMAGES.len()
        );
        assert_eq!(tasks[0]["total"], IMAGES.len());
        assert_eq!(tasks[0]["retained"], keep.len());
        assert_eq!(tags_of(&w, &repo), before, "a dry run deletes nothing");
        // Real run: the same decision, and only what it keeps is left.
        let (exec, tasks) = execute(&w, id, false);
        assert_eq!(exec["dry_run"], false);
        assert_eq!(outcome(&w, &tasks[0], "RETAIN"), keep, "rules {rules:?}");
        assert_eq!(tags_of(&w, &repo), tags_kept(&keep), "rules {rules:?}");
        let arts = api(
            &w,
            "GET",
            &format!("/projects/ret/repositories/case{case}/artifacts"),
        )
        .send();
        assert_eq!(
            arts.header("x-total-count"),
            Some(keep.len().to_string().as_str()),
            "untagged ones deleted too unless kept"
        );
    }
    assert_eq!(tags_of(&w, "ret/app"), before, "out of every case's scope");

    // A real run, with `stable` immutable: c survives though no rule keeps it.
    let r = api(&w, "POST", "/projects/ret/immutabletagrules")
        .body(json!({"tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "stable"}],
                     "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}).to_string())
        .send();
    assert_eq!(r.status, 201);
    let r = api(&w, "PUT", &format!("/retentions/{id}"))
        .body(
            policy(
                pid,
                vec![rule("latestPushedK", Some(1), "**", false, "app")],
            )
            .to_string(),
        )
        .send();
    assert_eq!(r.status, 200);
    let (exec, tasks) = execute(&w, id, false);
    assert_eq!(exec["dry_run"], false);
    assert!(exec["end_time"].is_string() && exec["start_time"].is_string());
    assert_eq!(tasks.len(), 1, "ret/other is out of the rule's scope");
    let got = decisions(&w, id, &tasks[0]);
    let newest_tagged = newest_pushed(1, &tagged);
    let c = &digests[2];
    for (d, outcome) in &got {
        let want = if newest_tagged.contains(d) || d == c {
            "RETAIN"
        } else {
            "DELETE"
        };
        assert_eq!(outcome, want, "{d}");
    }
    let expected_tags: BTreeSet<String> = IMAGES
        .iter()
        .zip(&digests)
        .filter(|(_, d)| newest_tagged.contains(*d) || *d == c)
        .flat_map(|(i, _)| i.tags.iter().map(|t| t.to_string()))
        .collect();
    assert_eq!(tags_of(&w, "ret/app"), expected_tags);
    let arts = api(&w, "GET", "/projects/ret/repositories/app/artifacts").send();
    assert_eq!(
        arts.header("x-total-count"),
        Some("2"),
        "the untagged one is gone too"
    );
    assert_eq!(tags_of(&w, "ret/other"), BTreeSet::from(["v1".to_string()]));
    let _ = other;

    // Executions newest first, with Harbor's fields; the CLI reads the same.
    let list = api(&w, "GET", &format!("/retentions/{id}/executions")).send();
    assert_eq!(list.header("x-total-count"), Some("13"));
    let first = &list.json()[0];
    for k in [
        "id",
        "policy_id",
        "status",
        "trigger",
        "dry_run",
        "start_time",
        "end_time",
    ] {
        assert!(first.get(k).is_some(), "{k} in {first}");
    }
    let out = wharf_cli(&w, &["retention", "executions", "ret", "--output", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli.as_array().unwrap().len(), 13);
    assert_eq!(cli[0]["dry_run"], false);
}

#[test]
fn the_cli_sets_shows_and_runs_a_policy() {
    let w = start_auth(&[]);
    create_project(&w, "clir", json!({}));
    for (seed, tag) in [("x", "v1"), ("y", "v2"), ("z", "v3")] {
        push(&w, "clir/app", seed, &[tag]);
    }
    let set = wharf_ok(
        &w,
        &[
            "retention",
            "set",
            "clir",
            "--rule",
            "latestPushedK=2",
            "--tags",
            "v*",
            "--cron",
            "0 0 3 * * *",
        ],
    );
    assert_eq!(set.trim(), "created the retention policy of clir");
    let shown = wharf_ok(&w, &["retention", "show", "clir"]);
    assert!(
        shown.contains("(schedule: 0 0 3 * * *)") && shown.contains("latestPushedK  2"),
        "{shown}"
    );
    wharf_ok(&w, &["retention", "set", "clir", "--rule", "always"]);
    let p: Value = serde_json::from_str(&wharf_ok(
        &w,
        &["retention", "show", "clir", "--output", "json"],
    ))
    .unwrap();
    assert_eq!(p["rules"].as_array().unwrap().len(), 1);
    assert_eq!(p["rules"][0]["template"], "always");
    let ran = wharf_ok(&w, &["retention", "run", "clir", "--dry-run"]);
    assert!(ran.contains("(dry run)"), "{ran}");
    let bad = wharf_cli(&w, &["retention", "set", "clir", "--rule", "latestPushedK"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("give the rule's number"));
    // Label selectors from the CLI: Harbor's `label` kind next to the tag pattern.
    wharf_ok(
        &w,
        &[
            "retention",
            "set",
            "clir",
            "--rule",
            "latestPushedK=1",
            "--with-labels",
            "prod,signed",
            "--without-labels",
            "deprecated",
        ],
    );
    let p: Value = serde_json::from_str(&wharf_ok(
        &w,
        &["retention", "show", "clir", "--output", "json"],
    ))
    .unwrap();
    let selectors = &p["rules"][0]["tag_selectors"];
    assert_eq!(selectors[0]["kind"], "doublestar", "{p}");
    assert_eq!(
        selectors[1],
        json!({"kind": "label", "decoration": "withLabels", "pattern": "prod,signed"})
    );
    assert_eq!(
        selectors[2],
        json!({"kind": "label", "decoration": "withoutLabels", "pattern": "deprecated"})
    );
}

#[test]
fn a_cron_schedule_runs_the_policy_once_per_fire_time() {
    let w = start_auth(&[]);
    let pid = create_project(&w, "cron", json!({}));
    push(&w, "cron/app", "p", &["v1"]);
    // Push times are whole seconds: v2 is pushed a second later, so it is the latest.
    std::thread::sleep(Duration::from_millis(1100));
    push(&w, "cron/app", "q", &["v2"]);
    let mut p = policy(pid, vec![rule("latestPushedK", Some(1), "**", false, "**")]);
    p["trigger"]["settings"]["cron"] = json!("* * * * * *");
    let id = created_id(&api(&w, "POST", "/retentions").body(p.to_string()).send());
    // The scheduler looks every 10 s; a due policy becomes one SCHEDULE execution.
    let deadline = Instant::now() + Duration::from_secs(40);
    let exec = loop {
        let list = api(&w, "GET", &format!("/retentions/{id}/executions"))
            .send()
            .json();
        if let Some(e) = list
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["status"] == "Success")
        {
            break e.clone();
        }
        assert!(Instant::now() < deadline, "no scheduled run: {list}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(exec["trigger"], "SCHEDULE");
    assert_eq!(exec["dry_run"], false);
    assert_eq!(tags_of(&w, "cron/app"), BTreeSet::from(["v2".to_string()]));
    // Manual only from now on; a finished execution cannot be stopped; bad actions are named.
    p["trigger"]["settings"]["cron"] = json!("");
    let r = api(&w, "PUT", &format!("/retentions/{id}"))
        .body(p.to_string())
        .send();
    assert_eq!(r.status, 200);
    let eid = exec["id"].as_i64().unwrap();
    let r = api(&w, "PATCH", &format!("/retentions/{id}/executions/{eid}"))
        .body(r#"{"action":"stop"}"#)
        .send();
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    let r = api(&w, "PATCH", &format!("/retentions/{id}/executions/{eid}"))
        .body(r#"{"action":"pause"}"#)
        .send();
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("the only action is"));
    let before = api(&w, "GET", &format!("/retentions/{id}/executions")).send();
    let n = before.header("x-total-count").unwrap().to_string();
    std::thread::sleep(Duration::from_secs(12));
    let after = api(&w, "GET", &format!("/retentions/{id}/executions")).send();
    assert_eq!(
        after.header("x-total-count").unwrap(),
        n,
        "no run without a schedule"
    );
}

/// An index's children are untagged, but they are part of it: never candidates of
/// their own, so a rule that ignores untagged artifacts keeps a multi-platform image whole.
#[test]
fn index_children_stay_with_their_index() {
    let w = start_auth(&[]);
    let pid = create_project(&w, "ix", json!({}));
    let out = Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--all",
            "--dest-tls-verify=false",
            "--dest-creds",
        ])
        .arg(format!("admin:{ADMIN_PW}"))
        .arg(common::oci_ref("multi", "v1"))
        .arg(format!("docker://{}/ix/multi:v1", w.host()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The layout's own index: its children, by digest.
    let index: Value = serde_json::from_slice(
        &std::fs::read(common::test_images().join("oci/multi/index.json")).unwrap(),
    )
    .unwrap();
    let v1 = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "v1")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let body: Value = serde_json::from_slice(
        &std::fs::read(
            common::test_images()
                .join("oci/multi/blobs")
                .join(v1.replace(':', "/")),
        )
        .unwrap(),
    )
    .unwrap();
    let children: Vec<String> = body["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(children.len(), 2);

    let id = created_id(
        &api(&w, "POST", "/retentions")
            .body(policy(pid, vec![rule("always", None, "v*", false, "**")]).to_string())
            .send(),
    );
    let (_, tasks) = execute(&w, id, false);
    let got = decisions(&w, id, &tasks[0]);
    assert_eq!(
        got,
        BTreeMap::from([(v1.clone(), "RETAIN".to_string())]),
        "only the index is a candidate"
    );
    for child in &children {
        let r = curl("HEAD", &w.url(&format!("/v2/ix/multi/manifests/{child}")))
            .arg("-u")
            .arg(&format!("admin:{ADMIN_PW}"))
            .send();
        assert_eq!(r.status, 200, "child {child} was deleted");
    }
}

/// Label selectors (Harbor's `label` kind): labels made and put on artifacts through
/// the label API, then a policy whose first rule keeps the most recently pushed
/// artifact carrying `prod` and whose second keeps every artifact carrying neither
/// `prod` nor `qa`. What is kept is computed here from the table of images.
#[test]
fn label_selectors_choose_artifacts_by_their_labels() {
    struct Labelled {
        tag: &'static str,
        labels: &'static [&'static str],
        pushed_days: i64,
    }
    const SET: &[Labelled] = &[
        Labelled {
            tag: "v1",
            labels: &["prod"],
            pushed_days: 5,
        },
        Labelled {
            tag: "v2",
            labels: &["prod", "qa"],
            pushed_days: 3,
        },
        Labelled {
            tag: "v3",
            labels: &["qa"],
            pushed_days: 2,
        },
        Labelled {
            tag: "v4",
            labels: &[],
            pushed_days: 1,
        },
    ];
    let mut w = start_auth(&[]);
    let dir = w.data_dir.parent().unwrap().to_path_buf();
    let pid = create_project(&w, "lbl", json!({}));
    let digests: Vec<String> = SET
        .iter()
        .map(|i| push(&w, "lbl/app", i.tag, &[i.tag]))
        .collect();
    w.terminate();
    let t0 = now();
    let db = w.data_dir.join("wharf.db");
    for (img, d) in SET.iter().zip(&digests) {
        sql(
            &db,
            &format!(
                "UPDATE manifests SET created_at = {} WHERE digest = '{d}'",
                t0 - img.pushed_days * DAY
            ),
        );
    }
    let w = Wharf::start_env(&dir, &["--auth"], &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)]);
    let mut ids = BTreeMap::new();
    for name in ["prod", "qa"] {
        let id = created_id(
            &api(&w, "POST", "/labels")
                .body(json!({"name": name, "scope": "g"}).to_string())
                .send(),
        );
        ids.insert(name, id);
    }
    for img in SET {
        for label in img.labels {
            let r = api(
                &w,
                "POST",
                &format!(
                    "/projects/lbl/repositories/app/artifacts/{}/labels",
                    img.tag
                ),
            )
            .body(json!({ "id": ids[label] }).to_string())
            .send();
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        }
    }
    let meta = api(&w, "GET", "/retentions/metadatas").send().json();
    assert!(
        meta["tag_selectors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "label"),
        "{meta}"
    );

    let repos = json!({"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]});
    let rules = vec![
        json!({"action": "retain", "template": "latestPushedK", "params": {"latestPushedK": 1},
               "tag_selectors": [
                   {"kind": "doublestar", "decoration": "matches", "pattern": "**"},
                   {"kind": "label", "decoration": "withLabels", "pattern": "prod"}],
               "scope_selectors": repos}),
        json!({"action": "retain", "template": "always", "params": {},
               "tag_selectors": [{"kind": "label", "decoration": "withoutLabels", "pattern": "prod,qa"}],
               "scope_selectors": repos}),
    ];
    // A label selector with a decoration Harbor does not have: 400, Harbor's body.
    let mut bad = rules.clone();
    bad[1]["tag_selectors"][0]["decoration"] = json!("withAnyLabel");
    let r = api(&w, "POST", "/retentions")
        .body(policy(pid, bad).to_string())
        .send();
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("withLabels"),
        "{}",
        r.json()
    );
    let id = created_id(
        &api(&w, "POST", "/retentions")
            .body(policy(pid, rules).to_string())
            .send(),
    );

    // Rule 1: the newest pushed of those labelled prod; rule 2: those with neither.
    let newest_prod = SET
        .iter()
        .zip(&digests)
        .filter(|(i, _)| i.labels.contains(&"prod"))
        .min_by_key(|(i, _)| i.pushed_days)
        .map(|(_, d)| d.clone())
        .unwrap();
    let expected: BTreeMap<String, String> = SET
        .iter()
        .zip(&digests)
        .map(|(i, d)| {
            let keep = *d == newest_prod || !i.labels.iter().any(|l| ["prod", "qa"].contains(l));
            (
                d.clone(),
                if keep { "RETAIN" } else { "DELETE" }.to_string(),
            )
        })
        .collect();
    let all_tags: BTreeSet<String> = SET.iter().map(|i| i.tag.to_string()).collect();

    let (exec, tasks) = execute(&w, id, true);
    assert_eq!(exec["dry_run"], true);
    assert_eq!(tasks.len(), 1);
    assert_eq!(decisions(&w, id, &tasks[0]), expected, "dry run");
    assert_eq!(
        tags_of(&w, "lbl/app"),
        all_tags,
        "a dry run deletes nothing"
    );

    let (_, tasks) = execute(&w, id, false);
    assert_eq!(decisions(&w, id, &tasks[0]), expected);
    let kept_tags: BTreeSet<String> = SET
        .iter()
        .zip(&digests)
        .filter(|(_, d)| expected[*d] == "RETAIN")
        .map(|(i, _)| i.tag.to_string())
        .collect();
    assert_eq!(tags_of(&w, "lbl/app"), kept_tags);
    assert_eq!(kept_tags.len(), 2);
}
