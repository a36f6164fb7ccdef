//! Harbor's labels end to end: a real `wharf serve` with access control, images
//! pushed by skopeo, labels managed through Harbor's `/labels` API by the roles
//! Harbor gives that right, put on artifacts and taken off, shown in artifact
//! bodies and used to filter the artifact list; and a push replication whose
//! `label` filter sends the labelled artifact to a second `wharf serve` and leaves
//! the unlabelled one behind.

mod common;

use std::time::{Duration, Instant};

use common::tag_rules::{
    ADMIN_PW, add_member, api, api_as, create_project, create_user, created_id, layout_image,
    skopeo_push_ok, start_auth,
};
use serde_json::{Value, json};

const DEV: Option<(&str, &str)> = Some(("dev", "Passw0rd!"));
const MAINT: Option<(&str, &str)> = Some(("maint", "Passw0rd!"));

fn label_ids(artifact: &Value) -> Vec<i64> {
    artifact["labels"]
        .as_array()
        .unwrap_or_else(|| panic!("no labels in {artifact}"))
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn labels_are_managed_by_their_scope_and_put_on_artifacts() {
    let w = start_auth(&[]);
    let project = create_project(&w, "lab", json!({}));
    create_project(&w, "elsewhere", json!({}));
    create_user(&w, "dev");
    create_user(&w, "maint");
    add_member(&w, "lab", "dev", 2);
    add_member(&w, "lab", "maint", 4);
    skopeo_push_ok(&w, "small", "v1", "lab/app:v1");
    skopeo_push_ok(&w, "debian", "bookworm-minbase", "lab/app:v2");
    let small = layout_image("small", "v1").manifest.0;
    let debian = layout_image("debian", "bookworm-minbase").manifest.0;

    // Global labels: system administrators only (a developer gets 403).
    let r = api_as(&w, "POST", "/labels", DEV)
        .body(json!({"name": "prod", "scope": "g"}).to_string())
        .send();
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    let prod = created_id(
        &api(&w, "POST", "/labels")
            .body(json!({"name": "prod", "description": "released", "color": "#0065AB", "scope": "g"}).to_string())
            .send(),
    );
    let r = api(&w, "POST", "/labels")
        .body(json!({"name": "prod", "scope": "g"}).to_string())
        .send();
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["errors"][0]["code"], "CONFLICT");
    // Validation: Harbor's error body, 400.
    for bad in [
        json!({"name": "", "scope": "g"}),
        json!({"name": "x", "scope": "q"}),
        json!({"name": "x", "scope": "p"}),
        json!({"name": "x", "scope": "g", "project_id": project}),
    ] {
        let r = api(&w, "POST", "/labels").body(bad.to_string()).send();
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["errors"][0]["code"], "BAD_REQUEST", "{bad}");
    }

    // Project labels: maintainers and project admins, not developers; the same
    // name as a global label is another scope.
    let r = api_as(&w, "POST", "/labels", DEV)
        .body(json!({"name": "qa", "scope": "p", "project_id": project}).to_string())
        .send();
    assert_eq!(r.status, 403);
    let qa = created_id(
        &api_as(&w, "POST", "/labels", MAINT)
            .body(json!({"name": "qa", "scope": "p", "project_id": project}).to_string())
            .send(),
    );
    let p_prod = created_id(
        &api_as(&w, "POST", "/labels", MAINT)
            .body(json!({"name": "prod", "scope": "p", "project_id": project}).to_string())
            .send(),
    );
    let foreign = created_id(
        &api(&w, "POST", "/labels")
            .body(json!({"name": "foreign", "scope": "p", "project_id": project + 1}).to_string())
            .send(),
    );

    // Reading: the Label object as Harbor's swagger has it.
    let got = api_as(&w, "GET", &format!("/labels/{prod}"), DEV).send();
    assert_eq!(got.status, 200);
    let got = got.json();
    assert_eq!(got["name"], "prod");
    assert_eq!(got["description"], "released");
    assert_eq!(got["color"], "#0065AB");
    assert_eq!(got["scope"], "g");
    assert!(got["creation_time"].as_str().unwrap().ends_with('Z'));
    let listed = api_as(
        &w,
        "GET",
        &format!("/labels?scope=p&project_id={project}&page_size=1"),
        DEV,
    )
    .send();
    assert_eq!(listed.status, 200);
    assert_eq!(listed.header("x-total-count"), Some("2"));
    assert!(listed.header("link").unwrap().contains("rel=\"next\""));
    assert_eq!(listed.json()[0]["id"], qa);
    let fuzzy = api(
        &w,
        "GET",
        &format!("/labels?scope=p&project_id={project}&q=name%3D~ro"),
    )
    .send()
    .json();
    assert_eq!(fuzzy.as_array().unwrap().len(), 1);
    assert_eq!(fuzzy[0]["id"], p_prod);
    assert_eq!(
        api(&w, "GET", "/labels?scope=g&name=prod").send().json()[0]["id"],
        prod
    );

    // Updating: a taken name is 409, another is fine.
    let r = api_as(&w, "PUT", &format!("/labels/{qa}"), MAINT)
        .body(json!({"name": "prod"}).to_string())
        .send();
    assert_eq!(r.status, 409);
    let r = api_as(&w, "PUT", &format!("/labels/{qa}"), MAINT)
        .body(json!({"name": "qa-passed", "color": "#48960C"}).to_string())
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(
        api(&w, "GET", &format!("/labels/{qa}")).send().json()["name"],
        "qa-passed"
    );

    // On artifacts: developers may; a global label and one of the project's, not
    // another project's; twice is 409, an unknown label 404.
    let add = |reference: &str, id: i64| {
        api_as(
            &w,
            "POST",
            &format!("/projects/lab/repositories/app/artifacts/{reference}/labels"),
            DEV,
        )
        .body(json!({ "id": id }).to_string())
        .send()
    };
    assert_eq!(add("v1", prod).status, 200);
    assert_eq!(add(&small, qa).status, 200);
    assert_eq!(add("v1", prod).status, 409);
    assert_eq!(add("v1", 999_999).status, 404);
    assert_eq!(add("v1", foreign).status, 400);
    assert_eq!(add("v9", prod).status, 404);

    // Artifact bodies carry them (list and get), by the artifact's digest.
    let one = api(&w, "GET", "/projects/lab/repositories/app/artifacts/v1")
        .send()
        .json();
    assert_eq!(one["digest"], small);
    assert_eq!(label_ids(&one), vec![prod, qa]);
    assert_eq!(one["labels"][0]["name"], "prod");
    let list = api(&w, "GET", "/projects/lab/repositories/app/artifacts")
        .send()
        .json();
    for a in list.as_array().unwrap() {
        if a["digest"] == small {
            assert_eq!(label_ids(a), vec![prod, qa]);
        } else {
            assert_eq!(a["digest"], debian);
            assert!(label_ids(a).is_empty());
        }
    }
    // The portal's repository page shows them with the tags.
    let login = common::curl("POST", &w.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("username=admin&password={ADMIN_PW}"))
        .send();
    assert_eq!(
        login.status,
        303,
        "{}",
        String::from_utf8_lossy(&login.body)
    );
    let cookie = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = common::curl("GET", &w.url("/projects/lab/repos/app"))
        .header("Cookie", &cookie)
        .send();
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("label: prod"), "{html}");
    assert!(html.contains("label: qa-passed"), "{html}");

    // Harbor's `q=labels={…}`: artifacts carrying any of them; `labels=(…)`:
    // every one of them (v1 carries prod, nothing carries p_prod).
    let filtered = api(
        &w,
        "GET",
        &format!("/projects/lab/repositories/app/artifacts?q=labels%3D%7B{prod}%20{p_prod}%7D"),
    )
    .send();
    assert_eq!(filtered.status, 200);
    assert_eq!(filtered.header("x-total-count"), Some("1"));
    assert_eq!(filtered.json()[0]["digest"], small);
    let both = api(
        &w,
        "GET",
        &format!("/projects/lab/repositories/app/artifacts?q=labels%3D({prod}%20{p_prod})"),
    )
    .send();
    assert_eq!(both.status, 200);
    assert_eq!(both.header("x-total-count"), Some("0"));
    let none = api(
        &w,
        "GET",
        &format!("/projects/lab/repositories/app/artifacts?q=labels%3D{p_prod}"),
    )
    .send();
    assert_eq!(none.json().as_array().unwrap().len(), 0);
    let r = api(
        &w,
        "GET",
        "/projects/lab/repositories/app/artifacts?q=labels%3D(x)",
    )
    .send();
    assert_eq!(r.status, 400);

    // Off again; a label not on it is 404.
    let remove = |id: i64| {
        api_as(
            &w,
            "DELETE",
            &format!("/projects/lab/repositories/app/artifacts/v1/labels/{id}"),
            DEV,
        )
        .send()
        .status
    };
    assert_eq!(remove(qa), 200);
    assert_eq!(remove(qa), 404);

    // Deleting a label takes it off every artifact.
    assert_eq!(
        api_as(&w, "DELETE", &format!("/labels/{prod}"), MAINT)
            .send()
            .status,
        403
    );
    assert_eq!(
        api(&w, "DELETE", &format!("/labels/{prod}")).send().status,
        200
    );
    assert_eq!(
        api(&w, "GET", &format!("/labels/{prod}")).send().status,
        404
    );
    let one = api(&w, "GET", "/projects/lab/repositories/app/artifacts/v1")
        .send()
        .json();
    assert!(label_ids(&one).is_empty());

    // Every change is in the audit log (written in the background: read until there).
    let wanted = [
        ("create", "label"),
        ("update", "label"),
        ("delete", "label"),
        ("create", "artifact_label"),
        ("delete", "artifact_label"),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = api(&w, "GET", "/audit-logs?page_size=100").send().json();
        let ops: Vec<(String, String)> = logs
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["operation"].as_str().unwrap_or_default().to_string(),
                    e["resource_type"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let missing: Vec<_> = wanted
            .iter()
            .filter(|(op, kind)| !ops.contains(&(op.to_string(), kind.to_string())))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "{missing:?} not in {ops:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The OpenAPI document lists the new paths.
    let doc = api(&w, "GET", "/openapi.json").send().json();
    assert!(doc["paths"]["/labels/{label_id}"].is_object());
    assert!(doc["components"]["schemas"]["Label"].is_object());
}

#[test]
fn a_label_filter_replicates_the_labelled_artifact_only() {
    let dev = start_auth(&[]);
    let airgap = start_auth(&[]);
    create_project(&dev, "production", json!({}));
    create_project(&airgap, "production", json!({}));
    skopeo_push_ok(&dev, "small", "v1", "production/app:v1");
    skopeo_push_ok(&dev, "debian", "bookworm-minbase", "production/app:v2");
    let small = layout_image("small", "v1").manifest.0;

    let approved = created_id(
        &api(&dev, "POST", "/labels")
            .body(json!({"name": "approved", "scope": "g"}).to_string())
            .send(),
    );
    let r = api(
        &dev,
        "POST",
        "/projects/production/repositories/app/artifacts/v1/labels",
    )
    .body(json!({ "id": approved }).to_string())
    .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let endpoint = created_id(
        &api(&dev, "POST", "/registries")
            .body(
                json!({"name": "airgap", "url": format!("http://{}", airgap.host()), "type": "harbor",
                    "insecure": true,
                    "credential": {"type": "basic", "access_key": "admin", "access_secret": ADMIN_PW}})
                .to_string(),
            )
            .send(),
    );
    let policy = created_id(
        &api(&dev, "POST", "/replication/policies")
            .body(
                json!({"name": "approved-only", "dest_registry": {"id": endpoint},
                    "filters": [{"type": "label", "value": ["approved"], "decoration": "matches"}],
                    "trigger": {"type": "manual"}, "enabled": true, "override": true})
                .to_string(),
            )
            .send(),
    );
    let execution = created_id(
        &api(&dev, "POST", "/replication/executions")
            .body(json!({ "policy_id": policy }).to_string())
            .send(),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let e = api(&dev, "GET", &format!("/replication/executions/{execution}"))
            .send()
            .json();
        if e["status"] != "InProgress" {
            break e;
        }
        assert!(Instant::now() < deadline, "execution did not end: {e}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(done["status"], "Succeed", "{done}");
    assert_eq!(done["total"], 1, "{done}");

    // At the destination: v1 (labelled) arrived, v2 did not.
    let served = |tag: &str| {
        common::curl(
            "HEAD",
            &airgap.url(&format!("/v2/production/app/manifests/{tag}")),
        )
        .header(
            "Accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
        )
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"))
        .send()
    };
    let v1 = served("v1");
    assert_eq!(v1.status, 200);
    assert_eq!(v1.header("docker-content-digest"), Some(small.as_str()));
    assert_eq!(served("v2").status, 404);
}
