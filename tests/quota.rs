//! Project storage quotas: usage follows the rule (each digest once per
//! project, whatever shares it), computed here from the OCI layouts' own blob
//! sizes; deletes lower it at once; a push over the limit is refused through
//! skopeo with the usage, the limit and the size asked for; Harbor's API shapes.

mod common;

use common::tag_rules::{
    api, api_as, create_project, create_user, distinct_bytes, layout_image, skopeo_push,
    skopeo_push_ok, start_auth, wharf_cli,
};
use serde_json::json;

fn used(w: &common::Wharf, project: &str) -> u64 {
    let s = api(w, "GET", &format!("/projects/{project}/summary"))
        .send()
        .json();
    s["quota"]["used"]["storage"].as_u64().unwrap()
}

#[test]
fn usage_counts_each_digest_once_and_pushes_over_the_limit_are_refused() {
    let w = start_auth(&[]);
    let pid = create_project(&w, "q", json!({"storage_limit": 1_000_000_000_000i64}));
    let small = layout_image("small", "v1");
    let debian = layout_image("debian", "bookworm-minbase");
    let pyapp = layout_image("pyapp", "v1");
    // The Python image is built on the Debian one: they share its layer.
    assert!(pyapp.blobs.iter().any(|b| debian.blobs.contains(b)));

    skopeo_push_ok(&w, "small", "v1", "q/small:v1");
    assert_eq!(used(&w, "q"), distinct_bytes(&[&small]));
    skopeo_push_ok(&w, "debian", "bookworm-minbase", "q/base:v1");
    skopeo_push_ok(&w, "pyapp", "v1", "q/app:v1");
    let all = distinct_bytes(&[&small, &debian, &pyapp]);
    assert_eq!(used(&w, "q"), all);
    // The same image in another repository, under another tag: nothing new.
    skopeo_push_ok(&w, "pyapp", "v1", "q/app2:v1");
    skopeo_push_ok(&w, "pyapp", "v1", "q/app2:again");
    assert_eq!(used(&w, "q"), all);

    // Harbor's quota objects.
    let list = api(
        &w,
        "GET",
        &format!("/quotas?reference=project&reference_id={pid}"),
    )
    .send();
    assert_eq!(list.status, 200);
    assert_eq!(list.header("x-total-count"), Some("1"));
    let q = &list.json()[0];
    assert_eq!(q["id"], pid);
    assert_eq!(q["ref"]["name"], "q");
    assert_eq!(q["hard"]["storage"], 1_000_000_000_000i64);
    assert_eq!(q["used"]["storage"], all);
    assert_eq!(
        api(&w, "GET", &format!("/quotas/{pid}")).send().json()["used"]["storage"],
        all
    );

    // Deletes lower usage at once, by what no other artifact still references.
    let r = api(&w, "DELETE", "/projects/q/repositories/app2").send();
    assert_eq!(r.status, 200);
    assert_eq!(used(&w, "q"), all);
    let r = api(
        &w,
        "DELETE",
        &format!(
            "/projects/q/repositories/app/artifacts/{}",
            pyapp.manifest.0
        ),
    )
    .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let now = distinct_bytes(&[&small, &debian]);
    assert_eq!(used(&w, "q"), now);

    // A limit just above the usage: pushing the Python image again needs its own
    // config and layer (the Debian layer is counted already) and is refused.
    let limit = now + 10;
    let r = api(&w, "PUT", &format!("/quotas/{pid}"))
        .body(json!({"hard": {"storage": limit}}).to_string())
        .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let out = skopeo_push(&w, "pyapp", "v1", "q/app:v2");
    assert!(!out.status.success(), "pushed over the quota");
    let err = String::from_utf8_lossy(&out.stderr);
    let expect = format!("denied: quota exceeded: project q uses {now} of its {limit} bytes; ");
    assert!(err.contains(&expect), "{err}");
    // What it asked for: one of the new blobs, or (had the blobs been mounted) the manifest's new bytes.
    let asked: u64 = err
        .split("needs ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no size in {err}"));
    let new: Vec<u64> = pyapp
        .all()
        .into_iter()
        .filter(|(d, _)| {
            !small
                .all()
                .iter()
                .chain(debian.all().iter())
                .any(|(x, _)| x == d)
        })
        .map(|(_, s)| s)
        .collect();
    assert!(
        new.contains(&asked) || new.iter().sum::<u64>() == asked,
        "asked {asked}, new blobs {new:?}"
    );
    assert_eq!(used(&w, "q"), now, "a refused push uses nothing");
    // Within the limit, a push still works (the small image is counted already).
    skopeo_push_ok(&w, "small", "v1", "q/small2:v1");

    // Only system administrators manage quotas; a bad limit is refused precisely.
    create_user(&w, "alice");
    let r = api_as(
        &w,
        "PUT",
        &format!("/quotas/{pid}"),
        Some(("alice", "Passw0rd!")),
    )
    .body(json!({"hard": {"storage": -1}}).to_string())
    .send();
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    let r = api(&w, "PUT", &format!("/quotas/{pid}"))
        .body(json!({"hard": {"storage": -7}}).to_string())
        .send();
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("storage limit -7"));
}

#[test]
fn new_projects_get_the_default_limit_and_the_cli_sets_it() {
    let w = start_auth(&["--default-storage-limit", "5000"]);
    create_user(&w, "bob");
    // A user's own storage_limit is ignored (Harbor: only administrators set it).
    let r = api_as(&w, "POST", "/projects", Some(("bob", "Passw0rd!")))
        .body(json!({"project_name": "bobs", "storage_limit": -1}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    // A bad limit is refused before anything is created.
    let r = api(&w, "POST", "/projects")
        .body(json!({"project_name": "badlimit", "storage_limit": -2}).to_string())
        .send();
    assert_eq!(r.status, 400);
    assert!(
        String::from_utf8_lossy(&r.body).contains("storage limit -2: bytes, or -1 for unlimited")
    );
    assert_eq!(api(&w, "GET", "/projects/badlimit").send().status, 404);
    let s = api_as(
        &w,
        "GET",
        "/projects/bobs/summary",
        Some(("bob", "Passw0rd!")),
    )
    .send()
    .json();
    assert_eq!(
        s["quota"],
        json!({"hard": {"storage": 5000}, "used": {"storage": 0}})
    );
    let small = layout_image("small", "v1");
    let total = distinct_bytes(&[&small]);
    assert!(total > 0 && total < 5000);

    let out = wharf_cli(&w, &["quota", "set", "bobs", "1KiB"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = wharf_cli(&w, &["quota", "get", "bobs", "--output", "json"]);
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got[0]["hard"], 1024);
    assert_eq!(got[0]["used"], 0);
    let pushed = skopeo_push(&w, "small", "v1", "bobs/small:v1");
    assert_eq!(
        pushed.status.success(),
        total <= 1024,
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let out = wharf_cli(&w, &["quota", "set", "bobs", "-1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    skopeo_push_ok(&w, "small", "v1", "bobs/small:v1");
    let out = wharf_cli(&w, &["quota", "get", "bobs"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("bobs     -1     {total}")),
        "{table}"
    );
}

#[test]
fn docker_push_over_the_quota_is_refused_with_the_figures() {
    let w = start_auth(&[]);
    let pid = create_project(&w, "dq", json!({"storage_limit": 100}));
    let d = common::Dockerd::start();
    common::tag_rules::docker_login(&d, &w);
    let image = format!("{}/dq/app:v1", w.host());
    common::tag_rules::docker_image(&d, &"x".repeat(4096), &image);
    let out = d.docker().args(["push", &image]).output().unwrap();
    assert!(!out.status.success(), "pushed over a 100-byte quota");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("quota exceeded: project dq uses 0 of its 100 bytes;"),
        "{err}"
    );
    let r = api(&w, "PUT", &format!("/quotas/{pid}"))
        .body(json!({"hard": {"storage": -1}}).to_string())
        .send();
    assert_eq!(r.status, 200);
    common::run(d.docker().args(["push", &image]));
    // One image: its usage is its size (manifest + config + layer).
    let a = api(&w, "GET", "/projects/dq/repositories/app/artifacts/v1")
        .send()
        .json();
    assert!(a["size"].as_u64().unwrap() > 0);
    assert_eq!(used(&w, "dq"), a["size"].as_u64().unwrap());
}
