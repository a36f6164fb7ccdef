//! Tag immutability (Harbor's immutabletagrules) through real clients: skopeo
//! cannot move a covered tag or delete it, the management API cannot delete the
//! tag or its artifact, pushing the same digest again is fine, a disabled rule
//! no longer applies; only maintainers and project admins manage rules.

mod common;

use std::process::Command;

use common::tag_rules::{
    ADMIN_PW, add_member, api, api_as, create_project, create_user, created_id, layout_image,
    skopeo_push, skopeo_push_ok, start_auth, wharf_ok,
};
use serde_json::json;

fn rule(tags: &str, repos: &str) -> serde_json::Value {
    json!({
        "disabled": false, "action": "immutable", "template": "immutable_template",
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": tags}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repos}]}
    })
}

#[test]
fn immutable_tags_refuse_moves_and_deletes_through_real_clients() {
    let w = start_auth(&[]);
    create_project(&w, "imm", json!({}));
    let small = layout_image("small", "v1").manifest.0;
    let debian = layout_image("debian", "bookworm-minbase").manifest.0;
    skopeo_push_ok(&w, "small", "v1", "imm/app:v1");

    // A developer may not add rules; a maintainer may.
    create_user(&w, "dev");
    create_user(&w, "maint");
    add_member(&w, "imm", "dev", 2);
    add_member(&w, "imm", "maint", 4);
    let r = api_as(
        &w,
        "POST",
        "/projects/imm/immutabletagrules",
        Some(("dev", "Passw0rd!")),
    )
    .body(rule("v*", "**").to_string())
    .send();
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    let id = created_id(
        &api_as(
            &w,
            "POST",
            "/projects/imm/immutabletagrules",
            Some(("maint", "Passw0rd!")),
        )
        .body(rule("{v*,stable}", "app").to_string())
        .send(),
    );
    let listed = api(&w, "GET", "/projects/imm/immutabletagrules")
        .send()
        .json();
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["tag_selectors"][0]["pattern"], "{v*,stable}");
    assert_eq!(
        listed[0]["scope_selectors"]["repository"][0]["decoration"],
        "repoMatches"
    );

    // Moving v1 to another image: refused, and skopeo shows why.
    let out = skopeo_push(&w, "debian", "bookworm-minbase", "imm/app:v1");
    assert!(!out.status.success(), "the tag moved");
    let err = String::from_utf8_lossy(&out.stderr);
    // (skopeo quotes the message's own quotes.)
    let err = err.replace("\\\"", "\"");
    assert!(
        err.contains(&format!(
            "denied: imm/app:v1 is immutable: immutable rule {id} (tags matches \"{{v*,stable}}\") forbids moving it from {small} to {debian}"
        )),
        "{err}"
    );
    // The same digest again: no move, allowed. Uncovered tags and repositories: allowed.
    skopeo_push_ok(&w, "small", "v1", "imm/app:v1");
    skopeo_push_ok(&w, "debian", "bookworm-minbase", "imm/app:latest");
    skopeo_push_ok(&w, "debian", "bookworm-minbase", "imm/app:latest");
    skopeo_push_ok(&w, "small", "v1", "imm/other:v1");
    skopeo_push_ok(&w, "debian", "bookworm-minbase", "imm/other:v1");

    // Deletes: the tag (management API), the artifact (API and skopeo, by digest).
    let r = api(
        &w,
        "DELETE",
        "/projects/imm/repositories/app/artifacts/v1/tags/v1",
    )
    .send();
    assert_eq!(r.status, 403);
    assert_eq!(r.error_code(), "DENIED");
    let msg = r.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        msg,
        format!(
            "imm/app:v1 is immutable: immutable rule {id} (tags matches \"{{v*,stable}}\") forbids deleting it"
        )
    );
    let r = api(
        &w,
        "DELETE",
        &format!("/projects/imm/repositories/app/artifacts/{small}"),
    )
    .send();
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    let del = Command::new("skopeo")
        .args(["delete", "--tls-verify=false", "--creds"])
        .arg(format!("admin:{ADMIN_PW}"))
        .arg(format!("docker://{}/imm/app:v1", w.host()))
        .output()
        .unwrap();
    assert!(!del.status.success());
    let err = String::from_utf8_lossy(&del.stderr);
    assert!(
        err.contains(&format!("forbids deleting artifact {small}")),
        "{err}"
    );
    let r = api(&w, "DELETE", "/projects/imm/repositories/app").send();
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert!(String::from_utf8_lossy(&r.body).contains("forbids deleting repository imm/app"));
    // Still there, still the same digest.
    let a = api(&w, "GET", "/projects/imm/repositories/app/artifacts/v1").send();
    assert_eq!(a.json()["digest"], small.as_str());

    // Disabled (Harbor's UI sends only the flag): moves and deletes work again.
    let r = api(&w, "PUT", &format!("/projects/imm/immutabletagrules/{id}"))
        .body(json!({"id": id, "disabled": true}).to_string())
        .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let listed = api(&w, "GET", "/projects/imm/immutabletagrules")
        .send()
        .json();
    assert_eq!(listed[0]["disabled"], true);
    assert_eq!(listed[0]["tag_selectors"][0]["pattern"], "{v*,stable}");
    skopeo_push_ok(&w, "debian", "bookworm-minbase", "imm/app:v1");
    let r = api(
        &w,
        "DELETE",
        "/projects/imm/repositories/app/artifacts/v1/tags/v1",
    )
    .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // Bad rules get precise errors; removal by id.
    let mut bad = rule("[", "**");
    let r = api(&w, "POST", "/projects/imm/immutabletagrules")
        .body(bad.to_string())
        .send();
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("tag selector pattern \\\"[\\\""));
    bad = rule("v*", "**");
    bad["tag_selectors"][0]["kind"] = json!("regex");
    let r = api(&w, "POST", "/projects/imm/immutabletagrules")
        .body(bad.to_string())
        .send();
    assert_eq!(r.status, 400);
    let r = api(
        &w,
        "DELETE",
        &format!("/projects/imm/immutabletagrules/{id}"),
    )
    .send();
    assert_eq!(r.status, 200);
    let r = api(
        &w,
        "DELETE",
        &format!("/projects/imm/immutabletagrules/{id}"),
    )
    .send();
    assert_eq!(r.status, 404);
}

#[test]
fn the_cli_manages_rules() {
    let w = start_auth(&[]);
    create_project(&w, "clip", json!({}));
    let added = wharf_ok(
        &w,
        &[
            "immutable",
            "add",
            "clip",
            "--tags",
            "release-*",
            "--repos",
            "web/**",
        ],
    );
    assert!(added.starts_with("added immutable rule "), "{added}");
    let table = wharf_ok(&w, &["immutable", "list", "clip"]);
    assert!(
        table.contains("matches release-*") && table.contains("repoMatches web/**"),
        "{table}"
    );
    let listed: serde_json::Value = serde_json::from_str(&wharf_ok(
        &w,
        &["immutable", "list", "clip", "--output", "json"],
    ))
    .unwrap();
    let id = listed[0]["id"].as_i64().unwrap();
    wharf_ok(&w, &["immutable", "remove", "clip", &id.to_string()]);
    let listed: serde_json::Value = serde_json::from_str(&wharf_ok(
        &w,
        &["immutable", "list", "clip", "--output", "json"],
    ))
    .unwrap();
    assert_eq!(listed, json!([]));
}

#[test]
fn docker_push_cannot_move_an_immutable_tag() {
    let w = start_auth(&[]);
    create_project(&w, "dimm", json!({}));
    let d = common::Dockerd::start();
    common::tag_rules::docker_login(&d, &w);
    let image = format!("{}/dimm/app:v1", w.host());
    common::tag_rules::docker_image(&d, "first", &image);
    common::run(d.docker().args(["push", &image]));
    let id = created_id(
        &api(&w, "POST", "/projects/dimm/immutabletagrules")
            .body(rule("v1", "**").to_string())
            .send(),
    );
    // The same image again: allowed.
    common::run(d.docker().args(["push", &image]));
    common::tag_rules::docker_image(&d, "second", &image);
    let out = d.docker().args(["push", &image]).output().unwrap();
    assert!(!out.status.success(), "docker moved an immutable tag");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("dimm/app:v1 is immutable: immutable rule {id}")),
        "{err}"
    );
}
