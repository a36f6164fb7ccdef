//! Access control with `wharf serve --auth`: Docker token auth as real clients
//! use it, Harbor's roles over /v2 and /api/v2.0, robot accounts, the audit
//! log, brute-force slowing, and secrets kept out of logs.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Curl, Dockerd, Wharf, curl, oci_ref, require, run};
use serde_json::{Value, json};

const ADMIN_PW: &str = "Harbor12345";

fn start() -> Wharf {
    let dir = tempfile::tempdir().unwrap();

    Wharf::start_env(
        &dir.keep(),
        &["--auth"],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    )
}

fn api(w: &Wharf, method: &str, path: &str, user: Option<(&str, &str)>) -> Curl {
    let mut c = curl(method, &w.url(&format!("/api/v2.0{path}")))
        .header("Content-Type", "application/json");
    if let Some((u, p)) = user {
        c = c.arg("-u").arg(&format!("{u}:{p}"));
    }
    c
}

fn admin() -> Option<(&'static str, &'static str)> {
    Some(("admin", ADMIN_PW))
}

/// The audit log (newest 100) once an entry matching `seen` is in it: the audit
/// writer batches off the request path, and keeps order.
fn audit_logs_once(w: &Wharf, seen: impl Fn(&Value) -> bool) -> Value {
    let mut logs = Value::Null;
    for _ in 0..50 {
        logs = api(w, "GET", "/audit-logs?page_size=100", admin())
            .send()
            .json();
        if logs.as_array().unwrap().iter().any(&seen) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    logs
}

fn create_user(w: &Wharf, name: &str) -> i64 {
    let r = api(w, "POST", "/users", admin()).body(json!({"username": name, "password": "Passw0rd!", "email": format!("{name}@example.com")}).to_string()).send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A manifest in cosign's tag layout (`sha256-<hex>.sig`) naming `repo:tag`:
/// the digest of the artifact it names.
fn push_cosign_tag(w: &Wharf, repo: &str, tag: &str) -> String {
    let auth = format!("admin:{ADMIN_PW}");
    let subject = curl("HEAD", &w.url(&format!("/v2/{repo}/manifests/{tag}")))
        .arg("-u")
        .arg(&auth)
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send();
    let subject = subject.header("docker-content-digest").unwrap().to_string();
    let empty = br#"{}"#.to_vec();
    let ed = common::sha256(&empty);
    let r = curl(
        "POST",
        &w.url(&format!("/v2/{repo}/blobs/uploads/?digest={ed}")),
    )
    .arg("-u")
    .arg(&auth)
    .body(empty)
    .send();
    assert_eq!(r.status, 201);
    let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": ed, "size": 2}, "layers": []})
    .to_string();
    let sig_tag = format!("sha256-{}.sig", subject.trim_start_matches("sha256:"));
    let r = curl("PUT", &w.url(&format!("/v2/{repo}/manifests/{sig_tag}")))
        .arg("-u")
        .arg(&auth)
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(m)
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    subject
}

fn create_project(w: &Wharf, name: &str, public: bool) {
    let r = api(w, "POST", "/projects", admin())
        .body(json!({"project_name": name, "metadata": {"public": public.to_string()}}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

fn add_member(w: &Wharf, project: &str, user: &str, role_id: i64) {
    let r = api(w, "POST", &format!("/projects/{project}/members"), admin())
        .body(json!({"role_id": role_id, "member_user": {"username": user}}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

fn token(w: &Wharf, user: Option<(&str, &str)>, scopes: &[&str]) -> (u16, Value) {
    let q: Vec<String> = scopes.iter().map(|s| format!("scope={s}")).collect();
    let mut c = curl(
        "GET",
        &w.url(&format!("/service/token?service=wharf&{}", q.join("&"))),
    );
    if let Some((u, p)) = user {
        c = c.arg("-u").arg(&format!("{u}:{p}"));
    }
    let r = c.send();
    let body = if r.status == 200 {
        r.json()
    } else {
        Value::Null
    };
    (r.status, body)
}

/// The actions a token's `access` claim grants (the JWT payload, decoded).
fn granted_actions(token: &Value) -> Vec<String> {
    use base64::Engine;
    let payload = token["token"].as_str().unwrap().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["access"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| {
            a["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
        })
        .collect()
}

fn bearer(c: Curl, token: &Value) -> Curl {
    c.header(
        "Authorization",
        &format!("Bearer {}", token["token"].as_str().unwrap()),
    )
}

/// Push a tiny image with Basic credentials; returns the HTTP status of the manifest PUT.
fn push_as(w: &Wharf, user: (&str, &str), repo: &str, tag: &str) -> u16 {
    let auth = format!("{}:{}", user.0, user.1);
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let digest = common::sha256(&config);
    let r = curl(
        "POST",
        &w.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")),
    )
    .arg("-u")
    .arg(&auth)
    .body(config.clone())
    .send();
    if r.status != 201 {
        return r.status;
    }
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": config.len()}, "layers": []});
    curl("PUT", &w.url(&format!("/v2/{repo}/manifests/{tag}")))
        .arg("-u")
        .arg(&auth)
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .status
}

#[test]
fn v2_challenges_and_tokens_grant_only_what_is_allowed() {
    let w = start();
    let r = curl("GET", &w.url("/v2/")).send();
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "UNAUTHORIZED");
    let challenge = r.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with(&format!(
            "Bearer realm=\"http://{}/service/token\"",
            w.host()
        )),
        "{challenge}"
    );
    assert!(challenge.contains("service=\"wharf\""));

    create_project(&w, "private", false);
    assert_eq!(push_as(&w, ("admin", ADMIN_PW), "library/pub", "v1"), 201);
    assert_eq!(push_as(&w, ("admin", ADMIN_PW), "private/app", "v1"), 201);

    // Anonymous token: pull on the public project only, never push.
    let (status, t) = token(
        &w,
        None,
        &[
            "repository:library/pub:pull,push",
            "repository:private/app:pull",
        ],
    );
    assert_eq!(status, 200);
    assert_eq!(t["access_token"], t["token"]);
    assert!(t["expires_in"].as_u64().unwrap() > 0);
    let r = bearer(curl("GET", &w.url("/v2/library/pub/manifests/v1")), &t).send();
    assert_eq!(r.status, 200);
    let r = bearer(curl("GET", &w.url("/v2/private/app/manifests/v1")), &t).send();
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("scope=\"repository:private/app:pull\"")
    );
    let r = bearer(curl("POST", &w.url("/v2/library/pub/blobs/uploads/")), &t).send();
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("error=\"insufficient_scope\"")
    );

    // A token for one repository cannot push to another.
    let (_, t) = token(&w, admin(), &["repository:private/app:pull,push"]);
    assert_eq!(
        bearer(curl("POST", &w.url("/v2/private/app/blobs/uploads/")), &t)
            .send()
            .status,
        202
    );
    assert_eq!(
        bearer(curl("POST", &w.url("/v2/private/other/blobs/uploads/")), &t)
            .send()
            .status,
        401
    );
    // Tampered tokens are refused.
    let mut forged = t.clone();
    let s = forged["token"].as_str().unwrap().to_string();
    forged["token"] = Value::String(format!("{}x", &s[..s.len() - 1]));
    assert_eq!(
        bearer(curl("GET", &w.url("/v2/private/app/manifests/v1")), &forged)
            .send()
            .status,
        401
    );

    // Wrong credentials at the token endpoint.
    assert_eq!(
        token(
            &w,
            Some(("admin", "wrong")),
            &["repository:library/pub:pull"]
        )
        .0,
        401
    );
    assert_eq!(
        token(
            &w,
            Some(("nobody", "Passw0rd!")),
            &["repository:library/pub:pull"]
        )
        .0,
        401
    );
    // Catalog: administrators only.
    let (_, t) = token(&w, admin(), &["registry:catalog:*"]);
    assert_eq!(
        bearer(curl("GET", &w.url("/v2/_catalog")), &t)
            .send()
            .status,
        200
    );
    let (_, t) = token(&w, None, &["registry:catalog:*"]);
    assert_eq!(
        bearer(curl("GET", &w.url("/v2/_catalog")), &t)
            .send()
            .status,
        401
    );
}

#[test]
fn expired_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Expiry has one-second resolution: a 3 s token is valid at once and dead 4 s later.
    let w = Wharf::start_env(
        dir.path(),
        &["--auth", "--token-ttl", "3"],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    );
    let (_, t) = token(&w, None, &["repository:library/x:pull"]);
    assert_eq!(bearer(curl("GET", &w.url("/v2/")), &t).send().status, 200);
    std::thread::sleep(Duration::from_millis(4100));
    let r = bearer(curl("GET", &w.url("/v2/")), &t).send();
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
}

/// Every role, anonymous and the system admin, against every operation, over /v2 and /api/v2.0.
#[test]
fn role_matrix_over_v2_and_the_api() {
    let w = start();
    create_project(&w, "team", false);
    assert_eq!(push_as(&w, ("admin", ADMIN_PW), "team/app", "base"), 201);
    let roles = [
        ("limitedguest", 5),
        ("guest", 3),
        ("developer", 2),
        ("maintainer", 4),
        ("projectadmin", 1),
    ];
    for (name, role) in roles {
        create_user(&w, name);
        add_member(&w, "team", name, role);
    }
    create_user(&w, "outsider");
    create_user(&w, "newbie");

    // (principal, pull, push, delete, list members, manage members, manage robots, read logs, scan)
    let expect = [
        (
            "anonymous",
            [false, false, false, false, false, false, false, false],
        ),
        (
            "outsider",
            [false, false, false, false, false, false, false, false],
        ),
        (
            "limitedguest",
            [true, false, false, false, false, false, false, false],
        ),
        (
            "guest",
            [true, false, false, true, false, false, true, false],
        ),
        (
            "developer",
            [true, true, false, true, false, false, true, false],
        ),
        (
            "maintainer",
            [true, true, true, true, false, false, true, true],
        ),
        (
            "projectadmin",
            [true, true, true, true, true, true, true, true],
        ),
        ("admin", [true, true, true, true, true, true, true, true]),
    ];
    for (i, (who, want)) in expect.iter().enumerate() {
        let creds = match *who {
            "anonymous" => None,
            "admin" => Some(("admin", ADMIN_PW)),
            other => Some((other, "Passw0rd!")),
        };
        // /v2 through tokens, as clients do.
        let (_, t) = token(&w, creds, &["repository:team/app:pull,push,delete"]);
        let granted = granted_actions(&t);
        let pull = bearer(curl("GET", &w.url("/v2/team/app/manifests/base")), &t)
            .send()
            .status
            == 200;
        assert_eq!(pull, want[0], "{who} pull");
        assert_eq!(
            granted.contains(&"push".to_string()),
            want[1],
            "{who} push in token"
        );
        let push = if let Some(c) = creds {
            push_as(&w, c, "team/app", &format!("t{i}")) == 201
        } else {
            false
        };
        assert_eq!(push, want[1], "{who} push over Basic");
        assert_eq!(
            granted.contains(&"delete".to_string()),
            want[2],
            "{who} delete in token"
        );
        if want[1] {
            let del = bearer(
                curl("DELETE", &w.url(&format!("/v2/team/app/manifests/t{i}"))),
                &t,
            )
            .send()
            .status;
            assert_eq!(del == 202, want[2], "{who} delete tag ({del})");
        }
        // The management API.
        let r = api(&w, "GET", "/projects/team/members", creds).send();
        assert_eq!(
            r.status == 200,
            want[3],
            "{who} list members ({})",
            r.status
        );
        let r = api(&w, "POST", "/projects/team/members", creds)
            .body(json!({"role_id": 3, "member_user": {"username": "newbie"}}).to_string())
            .send();
        assert_eq!(r.status == 201, want[4], "{who} add member ({})", r.status);
        if r.status == 201 {
            let id = r
                .header("location")
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            assert_eq!(
                api(&w, "DELETE", &format!("/projects/team/members/{id}"), creds)
                    .send()
                    .status,
                200
            );
        }
        let robot = json!({"name": format!("r{i}"), "level": "project", "duration": -1,
            "permissions": [{"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "pull"}]}]});
        let r = api(&w, "POST", "/robots", creds)
            .body(robot.to_string())
            .send();
        assert_eq!(
            r.status == 201,
            want[5],
            "{who} create robot ({})",
            r.status
        );
        let r = api(&w, "GET", "/projects/team/logs", creds).send();
        assert_eq!(r.status == 200, want[6], "{who} read logs ({})", r.status);
        // Listing repositories and reading scan reports go with pulling for every role.
        let r = api(&w, "GET", "/projects/team/repositories", creds).send();
        assert_eq!(
            r.status == 200,
            want[0],
            "{who} list repositories ({})",
            r.status
        );
        let r = api(
            &w,
            "GET",
            "/projects/team/repositories/app/artifacts/base/additions/vulnerabilities",
            creds,
        )
        .send();
        assert_eq!(
            r.status == 200,
            want[0],
            "{who} read vulnerabilities ({})",
            r.status
        );
        let r = api(
            &w,
            "POST",
            "/projects/team/repositories/app/artifacts/base/scan",
            creds,
        )
        .send();
        assert_eq!(r.status == 202, want[7], "{who} scan ({})", r.status);
    }

    // Robots, one per permission set: (access, pull, push, delete, list repositories)
    type Grants<'a> = &'a [(&'a str, &'a str)];
    let sets: [(Grants, [bool; 4]); 4] = [
        (&[("repository", "pull")], [true, false, false, false]),
        (
            &[("repository", "pull"), ("repository", "push")],
            [true, true, false, false],
        ),
        (
            &[
                ("repository", "pull"),
                ("repository", "push"),
                ("artifact", "delete"),
            ],
            [true, true, true, false],
        ),
        (&[("repository", "list")], [false, false, false, true]),
    ];
    for (i, (access, want)) in sets.iter().enumerate() {
        let access: Vec<Value> = access
            .iter()
            .map(|(r, a)| json!({"resource": r, "action": a}))
            .collect();
        let spec = json!({"name": format!("set{i}"), "level": "project", "duration": -1,
            "permissions": [{"kind": "project", "namespace": "team", "access": access}]});
        let created = api(&w, "POST", "/robots", admin())
            .body(spec.to_string())
            .send()
            .json();
        let creds = (
            created["name"].as_str().unwrap().to_string(),
            created["secret"].as_str().unwrap().to_string(),
        );
        let (_, t) = token(
            &w,
            Some((&creds.0, &creds.1)),
            &["repository:team/app:pull,push,delete"],
        );
        let granted = granted_actions(&t);
        assert_eq!(
            granted.contains(&"pull".to_string()),
            want[0],
            "robot set {i} pull"
        );
        assert_eq!(
            granted.contains(&"push".to_string()),
            want[1],
            "robot set {i} push"
        );
        assert_eq!(
            granted.contains(&"delete".to_string()),
            want[2],
            "robot set {i} delete"
        );
        let pushed = push_as(&w, (&creds.0, &creds.1), "team/app", &format!("robot{i}")) == 201;
        assert_eq!(pushed, want[1], "robot set {i} push over Basic");
        let r = api(
            &w,
            "GET",
            "/projects/team/repositories",
            Some((&creds.0, &creds.1)),
        )
        .send();
        assert_eq!(
            r.status == 200,
            want[3],
            "robot set {i} list repositories ({})",
            r.status
        );
    }
    // Only the system administrator manages users and reads the global audit log.
    assert_eq!(
        api(&w, "GET", "/users", Some(("projectadmin", "Passw0rd!")))
            .send()
            .status,
        403
    );
    assert_eq!(
        api(
            &w,
            "GET",
            "/audit-logs",
            Some(("projectadmin", "Passw0rd!"))
        )
        .send()
        .status,
        403
    );
    assert_eq!(api(&w, "GET", "/audit-logs", admin()).send().status, 200);
    // A private project is invisible to outsiders; a public one is listed for everyone.
    let r = api(&w, "GET", "/projects", Some(("outsider", "Passw0rd!"))).send();
    let names: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["library"]);
    assert_eq!(
        api(&w, "GET", "/projects/team", Some(("outsider", "Passw0rd!")))
            .send()
            .status,
        404
    );
    let r = api(
        &w,
        "GET",
        "/projects/team",
        Some(("developer", "Passw0rd!")),
    )
    .send();
    assert_eq!(r.json()["current_user_role_id"], 2);
    // The list carries each project's role for the caller (fetched for the page at once).
    let r = api(&w, "GET", "/projects", Some(("developer", "Passw0rd!"))).send();
    let roles: Vec<(String, i64)> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["current_user_role_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        roles.contains(&("team".to_string(), 2)) && roles.contains(&("library".to_string(), 0)),
        "{roles:?}"
    );
}

/// A custom role with only `pull` and `scan`: exactly those two, over `/v2`, the
/// token endpoint and the API, and nothing a built-in role would add.
#[test]
fn custom_role_grants_exactly_its_actions() {
    let w = start();
    create_project(&w, "team", false);
    assert_eq!(push_as(&w, ("admin", ADMIN_PW), "team/app", "base"), 201);

    // Defining roles is for system administrators; bad definitions say what is wrong.
    create_user(&w, "carol");
    let def =
        json!({"name": "pull-and-scan", "description": "CI scanners", "actions": ["pull", "scan"]});
    let r = api(&w, "POST", "/roles", Some(("carol", "Passw0rd!")))
        .body(def.to_string())
        .send();
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    let r = api(&w, "POST", "/roles", admin())
        .body(json!({"name": "x", "actions": ["pull", "fly"]}).to_string())
        .send();
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("fly"));
    let r = api(&w, "POST", "/roles", admin())
        .body(json!({"name": "Developer", "actions": ["pull"]}).to_string())
        .send();
    assert_eq!(r.status, 409, "a built-in role's name is taken");
    let r = api(&w, "POST", "/roles", admin())
        .body(def.to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let role_id: i64 = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(role_id > 5, "custom ids are clear of Harbor's");
    let r = api(&w, "PUT", "/roles/2", admin())
        .body(json!({"name": "developer", "actions": ["pull"]}).to_string())
        .send();
    assert_eq!(r.status, 403, "built-in roles cannot be changed");

    // Every role, built-in ones with the actions the permission table gives them.
    let roles = api(&w, "GET", "/roles", Some(("carol", "Passw0rd!")))
        .send()
        .json();
    let roles = roles.as_array().unwrap();
    assert_eq!(roles.len(), 6);
    let guest = roles.iter().find(|r| r["id"] == 3).unwrap();
    assert_eq!(guest["name"], "guest");
    assert!(
        guest["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("read-members"))
    );
    let custom = roles.iter().find(|r| r["id"] == role_id).unwrap();
    assert_eq!(custom["actions"], json!(["pull", "scan"]));

    let r = api(&w, "POST", "/projects/team/members", admin())
        .body(json!({"role_id": 77, "member_user": {"username": "carol"}}).to_string())
        .send();
    assert_eq!(r.status, 400, "an unknown role_id is refused");
    add_member(&w, "team", "carol", role_id);
    let members = api(&w, "GET", "/projects/team/members", admin())
        .send()
        .json();
    let carol = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["entity_name"] == "carol")
        .unwrap()
        .clone();
    assert_eq!(
        (carol["role_id"].as_i64(), carol["role_name"].as_str()),
        (Some(role_id), Some("pull-and-scan"))
    );

    let creds = Some(("carol", "Passw0rd!"));
    // /v2: the token grants pull only; pulls work, pushes and deletes do not.
    let (_, t) = token(&w, creds, &["repository:team/app:pull,push,delete"]);
    assert_eq!(granted_actions(&t), vec!["pull".to_string()]);
    let pull = bearer(curl("GET", &w.url("/v2/team/app/manifests/base")), &t).send();
    assert_eq!(pull.status, 200);
    assert_ne!(push_as(&w, ("carol", "Passw0rd!"), "team/app", "mine"), 201);
    // The API: scanning is allowed; what even a limited guest may do is not.
    let r = api(
        &w,
        "POST",
        "/projects/team/repositories/app/artifacts/base/scan",
        creds,
    )
    .send();
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    for path in [
        "/projects/team/repositories",
        "/projects/team/repositories/app/artifacts/base/additions/vulnerabilities",
        "/projects/team/members",
        "/projects/team/logs",
    ] {
        let r = api(&w, "GET", path, creds).send();
        assert!(matches!(r.status, 403 | 404), "{path}: {}", r.status);
    }
    let r = api(
        &w,
        "DELETE",
        "/projects/team/repositories/app/artifacts/base",
        creds,
    )
    .send();
    assert!(matches!(r.status, 403 | 404), "delete: {}", r.status);

    // Adding `read-scan` to the role applies to its holder at once.
    let r = api(&w, "PUT", &format!("/roles/{role_id}"), admin())
        .body(
            json!({"name": "pull-and-scan", "actions": ["pull", "scan", "read-scan"]}).to_string(),
        )
        .send();
    assert_eq!(r.status, 200);
    let r = api(
        &w,
        "GET",
        "/projects/team/repositories/app/artifacts/base/additions/vulnerabilities",
        creds,
    )
    .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // A role in use cannot be removed; once unused it can.
    let r = api(&w, "DELETE", &format!("/roles/{role_id}"), admin()).send();
    assert_eq!(r.status, 409);
    let member_id = carol["id"].as_i64().unwrap();
    assert_eq!(
        api(
            &w,
            "DELETE",
            &format!("/projects/team/members/{member_id}"),
            admin()
        )
        .send()
        .status,
        200
    );
    assert_eq!(
        api(&w, "DELETE", &format!("/roles/{role_id}"), admin())
            .send()
            .status,
        200
    );
    assert_eq!(
        api(&w, "GET", &format!("/roles/{role_id}"), admin())
            .send()
            .status,
        404
    );
}

#[test]
fn robot_accounts_expire_disable_and_rotate() {
    let w = start();
    create_project(&w, "ci", false);
    assert_eq!(push_as(&w, ("admin", ADMIN_PW), "ci/app", "v1"), 201);
    let spec = json!({"name": "builder", "level": "project", "duration": -1, "description": "CI",
        "permissions": [{"kind": "project", "namespace": "ci", "access": [
            {"resource": "repository", "action": "pull"}, {"resource": "repository", "action": "push"}]}]});
    let r = api(&w, "POST", "/robots", admin())
        .body(spec.to_string())
        .send();
    assert_eq!(r.status, 201);
    let created = r.json();
    assert_eq!(created["name"], "robot$ci+builder");
    let (name, secret) = (
        created["name"].as_str().unwrap().to_string(),
        created["secret"].as_str().unwrap().to_string(),
    );
    let id = created["id"].as_i64().unwrap();
    assert_eq!(push_as(&w, (&name, &secret), "ci/app", "v2"), 201);
    // Only its own project.
    assert_eq!(push_as(&w, (&name, &secret), "library/app", "v1"), 403);
    // The secret is never returned again.
    let listed = api(&w, "GET", &format!("/robots/{id}"), admin())
        .send()
        .json();
    assert!(listed.get("secret").is_none());

    // Disabled: refused at once.
    let r = api(&w, "PUT", &format!("/robots/{id}"), admin())
        .body(json!({"description": "CI", "disable": true}).to_string())
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(
        token(&w, Some((&name, &secret)), &["repository:ci/app:pull"]).0,
        401
    );
    api(&w, "PUT", &format!("/robots/{id}"), admin())
        .body(json!({"description": "CI", "disable": false}).to_string())
        .send();
    assert_eq!(
        token(&w, Some((&name, &secret)), &["repository:ci/app:pull"]).0,
        200
    );

    // Rotated: the old secret stops working, the new one works.
    let r = api(&w, "PATCH", &format!("/robots/{id}"), admin())
        .body("{}")
        .send();
    assert_eq!(r.status, 200);
    let fresh = r.json()["secret"].as_str().unwrap().to_string();
    assert_ne!(fresh, secret);
    assert_eq!(
        token(&w, Some((&name, &secret)), &["repository:ci/app:pull"]).0,
        401
    );
    assert_eq!(
        token(&w, Some((&name, &fresh)), &["repository:ci/app:pull"]).0,
        200
    );

    // Expired: duration 0 days means it expired on creation.
    let expired = json!({"name": "old", "level": "system", "duration": 0,
        "permissions": [{"kind": "project", "namespace": "*", "access": [{"resource": "repository", "action": "pull"}]}]});
    let r = api(&w, "POST", "/robots", admin())
        .body(expired.to_string())
        .send();
    let (ename, esecret) = (
        r.json()["name"].as_str().unwrap().to_string(),
        r.json()["secret"].as_str().unwrap().to_string(),
    );
    assert_eq!(ename, "robot$old");
    assert_eq!(
        token(&w, Some((&ename, &esecret)), &["repository:ci/app:pull"]).0,
        401
    );

    // Secrets never reach the log.
    let log = w.log_text();
    for s in [ADMIN_PW, secret.as_str(), fresh.as_str(), esecret.as_str()] {
        assert!(!log.contains(s), "a secret appears in the server log");
    }
}

#[test]
fn audit_log_records_who_did_what() {
    let w = start();
    create_project(&w, "audited", false);
    create_user(&w, "dev");
    add_member(&w, "audited", "dev", 2);
    assert_eq!(push_as(&w, ("dev", "Passw0rd!"), "audited/app", "v1"), 201);
    let r = curl("GET", &w.url("/v2/audited/app/manifests/v1"))
        .arg("-u")
        .arg("dev:Passw0rd!")
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(
        curl("DELETE", &w.url("/v2/audited/app/manifests/v1"))
            .arg("-u")
            .arg(&format!("admin:{ADMIN_PW}"))
            .send()
            .status,
        202
    );
    assert_eq!(token(&w, Some(("dev", "wrong")), &[]).0, 401);
    // The audit writer batches off the request path: wait until the last entry is in.
    let logs = audit_logs_once(&w, |e| e["operation"] == "login_failed");
    let has = |user: &str, op: &str, resource: &str| {
        logs.as_array().unwrap().iter().any(|e| {
            e["username"] == user
                && e["operation"] == op
                && e["resource"] == resource
                && e["client_ip"] == "127.0.0.1"
        })
    };
    assert!(has("dev", "create", "audited/app:v1"), "{logs:#}");
    assert!(has("dev", "pull", "audited/app:v1"), "{logs:#}");
    assert!(has("admin", "delete", "audited/app:v1"), "{logs:#}");
    assert!(has("anonymous", "login_failed", "dev"), "{logs:#}");
    assert!(
        has("admin", "create", "audited:dev"),
        "membership change missing: {logs:#}"
    );
    assert!(
        has("admin", "create", "audited"),
        "project creation missing: {logs:#}"
    );
    // The project's own log, with the total in X-Total-Count.
    let r = api(
        &w,
        "GET",
        "/projects/audited/logs?page_size=2",
        Some(("dev", "Passw0rd!")),
    )
    .send();
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    assert!(r.header("x-total-count").unwrap().parse::<u32>().unwrap() >= 4);
    assert!(r.header("link").unwrap().contains("rel=\"next\""));
}

#[test]
fn a_burst_of_basic_auth_requests_checks_the_password_once() {
    // Each password check (argon2) that succeeds writes one `login` entry; a
    // request answered from the credential cache writes none. Sixteen requests
    // sent at once with credentials not yet cached must make one check, not
    // sixteen running side by side.
    let w = start();
    create_user(&w, "burst");
    let go = std::sync::Arc::new(std::sync::Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let go = go.clone();
            let url = w.url("/api/v2.0/users/current");
            std::thread::spawn(move || {
                go.wait();
                curl("GET", &url)
                    .arg("-u")
                    .arg("burst:Passw0rd!")
                    .send()
                    .status
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    // The audit writer keeps order: once a later failure is logged, every
    // login of the burst is in.
    assert_eq!(token(&w, Some(("marker", "wrong")), &[]).0, 401);
    let logs = audit_logs_once(&w, |e| {
        e["operation"] == "login_failed" && e["resource"] == "marker"
    });
    let logins = logs
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["username"] == "burst" && e["operation"] == "login")
        .count();
    assert_eq!(logins, 1, "password checks for one burst: {logs:#}");
}

#[test]
fn repeated_login_failures_are_slowed_down() {
    let w = start();
    for _ in 0..6 {
        assert_eq!(token(&w, Some(("admin", "guess")), &[]).0, 401);
    }
    let t0 = Instant::now();
    assert_eq!(token(&w, Some(("admin", "guess")), &[]).0, 401);
    assert!(
        t0.elapsed() >= Duration::from_millis(200),
        "no delay after repeated failures"
    );
}

#[test]
fn users_change_passwords_and_projects_delete_only_when_empty() {
    let w = start();
    let id = create_user(&w, "alice");
    let weak = api(&w, "POST", "/users", admin())
        .body(json!({"username": "weak", "password": "short"}).to_string())
        .send();
    assert_eq!(weak.status, 400);
    let dup = api(&w, "POST", "/users", admin())
        .body(json!({"username": "alice", "password": "Passw0rd!"}).to_string())
        .send();
    assert_eq!(dup.status, 409);
    let alice = Some(("alice", "Passw0rd!"));
    let r = api(&w, "PUT", &format!("/users/{id}/password"), alice)
        .body(json!({"old_password": "nope", "new_password": "N3wPassword"}).to_string())
        .send();
    assert_eq!(r.status, 403);
    let r = api(&w, "PUT", &format!("/users/{id}/password"), alice)
        .body(json!({"old_password": "Passw0rd!", "new_password": "N3wPassword"}).to_string())
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(api(&w, "GET", "/users/current", alice).send().status, 401);
    assert_eq!(
        api(&w, "GET", "/users/current", Some(("alice", "N3wPassword")))
            .send()
            .json()["username"],
        "alice"
    );

    // Users may create projects and become their admins.
    let r = api(&w, "POST", "/projects", Some(("alice", "N3wPassword")))
        .body(json!({"project_name": "alices"}).to_string())
        .send();
    assert_eq!(r.status, 201);
    assert_eq!(
        push_as(&w, ("alice", "N3wPassword"), "alices/app", "v1"),
        201
    );
    let r = api(
        &w,
        "DELETE",
        "/projects/alices",
        Some(("alice", "N3wPassword")),
    )
    .send();
    assert_eq!(r.status, 412);
    assert_eq!(
        api(&w, "HEAD", "/projects?project_name=alices", admin())
            .send()
            .status,
        200
    );
    assert_eq!(
        api(&w, "HEAD", "/projects?project_name=nothing", admin())
            .send()
            .status,
        404
    );
}

#[test]
fn real_clients_log_in_push_and_pull() {
    require("skopeo");
    let w = start();
    create_project(&w, "secret", false);
    let home = tempfile::tempdir().unwrap();
    let authfile = home.path().join("auth.json");
    run(Command::new("skopeo")
        .args([
            "login",
            "--tls-verify=false",
            "-u",
            "admin",
            "-p",
            ADMIN_PW,
            "--authfile",
        ])
        .arg(&authfile)
        .arg(w.host()));
    run(Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "--authfile",
        ])
        .arg(&authfile)
        .arg(oci_ref("small", "v1"))
        .arg(format!("docker://{}/secret/small:v1", w.host())));
    run(Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
        ])
        .arg(format!("admin:{ADMIN_PW}"))
        .arg(oci_ref("small", "v1"))
        .arg(format!("docker://{}/library/small:v1", w.host())));
    // Anonymous: the public image, yes; the private one, no.
    run(Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--no-creds"])
        .arg(format!("docker://{}/library/small:v1", w.host())));
    let denied = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--no-creds"])
        .arg(format!("docker://{}/secret/small:v1", w.host()))
        .output()
        .unwrap();
    assert!(!denied.status.success());
    let msg = String::from_utf8_lossy(&denied.stderr);
    assert!(
        msg.contains("unauthorized") || msg.contains("denied"),
        "{msg}"
    );

    // oras (Python) logs in and pushes.
    let script = r#"
import sys, oras.client
host, pw = sys.argv[1], sys.argv[2]
# oras-py's token backend reuses its first token whatever scope a later
# challenge names, so pushes need its Basic backend (Wharf accepts Basic on /v2).
c = oras.client.OrasClient(hostname=host, insecure=True, auth_backend="basic")
c.login(username="admin", password=pw, hostname=host, tls_verify=False)
open("note.txt", "w").write("hello")
c.push(target=f"{host}/secret/note:v1", files=["note.txt"], disable_path_validation=True)
print("pushed")
"#;
    let out = run(Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(w.host())
        .arg(ADMIN_PW)
        .current_dir(home.path()));
    assert!(out.contains("pushed"));
    let r = curl("GET", &w.url("/v2/secret/note/manifests/v1"))
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"))
        .send();
    assert_eq!(r.status, 200);
}

#[test]
fn generated_admin_password_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let run_once = |wait_for_line: bool| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args([
                "serve",
                "--auth",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.path())
            .env_remove("WHARF_ADMIN_PASSWORD")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !wait_for_line {
            std::thread::sleep(Duration::from_millis(300));
        }
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run_once(true);
    let password = first
        .split("password: ")
        .nth(1)
        .expect("password printed")
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(password.len() >= 16);
    let second = run_once(false);
    assert!(!second.contains("password"), "printed again: {second}");
    // And it works.
    let _w = Wharf::start_in(dir.path(), &["--auth"]);
}

#[test]
fn docker_logs_in_pushes_and_pulls_with_tokens() {
    let w = start();
    create_project(&w, "dock", false);
    create_user(&w, "dev");
    add_member(&w, "dock", "dev", 2);
    let d = Dockerd::start();
    let out = run(d
        .docker()
        .args(["login", "-u", "dev", "-p", "Passw0rd!", &w.host()]));
    assert!(out.contains("Login Succeeded"), "{out}");
    let rootfs = tempfile::tempdir().unwrap();
    std::fs::write(rootfs.path().join("f"), "x").unwrap();
    let tar = rootfs.path().join("r.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(rootfs.path())
        .arg("-cf")
        .arg(&tar)
        .arg("f"));
    let image = format!("{}/dock/app:v1", w.host());
    run(d.docker().arg("import").arg(&tar).arg(&image));
    run(d.docker().args(["push", &image]));
    run(d.docker().args(["rmi", &image]));
    run(d.docker().args(["pull", &image]));
    // Logged out, the private image cannot be pulled.
    run(d.docker().args(["logout", &w.host()]));
    run(d.docker().args(["rmi", &image]));
    let denied = d.docker().args(["pull", &image]).output().unwrap();
    assert!(!denied.status.success());
}

#[test]
fn artifact_api_lists_tags_and_accessories_and_deletes_them_together() {
    let w = start();
    create_project(&w, "arts", false);
    create_user(&w, "viewer");
    add_member(&w, "arts", "viewer", 3);
    let admin_auth = format!("admin:{ADMIN_PW}");
    // An image in a nested repository, and two accessories naming it as subject.
    assert_eq!(push_as(&w, ("admin", ADMIN_PW), "arts/team/app", "v1"), 201);
    let subject = curl("HEAD", &w.url("/v2/arts/team/app/manifests/v1"))
        .arg("-u")
        .arg(&admin_auth)
        .send();
    let (sdigest, ssize) = (
        subject.header("docker-content-digest").unwrap().to_string(),
        subject.header("content-length").unwrap().to_string(),
    );
    let empty = br#"{}"#.to_vec();
    let ed = common::sha256(&empty);
    let r = curl(
        "POST",
        &w.url(&format!("/v2/arts/team/app/blobs/uploads/?digest={ed}")),
    )
    .arg("-u")
    .arg(&admin_auth)
    .body(empty)
    .send();
    assert_eq!(r.status, 201);
    for artifact_type in [
        "application/vnd.dev.cosign.artifact.sig.v1+json",
        "application/spdx+json",
    ] {
        let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": ed, "size": 2}, "layers": [],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sdigest, "size": ssize.parse::<u64>().unwrap()}})
        .to_string();
        let d = common::sha256(m.as_bytes());
        let r = curl("PUT", &w.url(&format!("/v2/arts/team/app/manifests/{d}")))
            .arg("-u")
            .arg(&admin_auth)
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(m)
            .send();
        assert_eq!(r.status, 201);
    }
    let viewer = Some(("viewer", "Passw0rd!"));
    let repos = api(&w, "GET", "/projects/arts/repositories", viewer)
        .send()
        .json();
    assert_eq!(repos[0]["name"], "arts/team/app");
    assert_eq!(
        repos[0]["artifact_count"], 1,
        "accessories are not artifacts of their own"
    );
    for encoded in ["team%2Fapp", "team%252Fapp"] {
        let arts = api(
            &w,
            "GET",
            &format!("/projects/arts/repositories/{encoded}/artifacts?with_accessory=true"),
            viewer,
        )
        .send();
        assert_eq!(arts.status, 200, "{encoded}");
        let arts = arts.json();
        assert_eq!(arts.as_array().unwrap().len(), 1);
        assert_eq!(arts[0]["digest"], sdigest.as_str());
        assert_eq!(arts[0]["tags"][0]["name"], "v1");
        let mut kinds: Vec<String> = arts[0]["accessories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["type"].as_str().unwrap().to_string())
            .collect();
        kinds.sort();
        assert_eq!(kinds, ["sbom", "signature.cosign"]);
    }
    // Tags through the API; a guest may read but not change.
    let path = "/projects/arts/repositories/team%252Fapp/artifacts/v1/tags";
    assert_eq!(
        api(&w, "POST", path, viewer)
            .body(json!({"name": "stable"}).to_string())
            .send()
            .status,
        403
    );
    assert_eq!(
        api(&w, "POST", path, admin())
            .body(json!({"name": "stable"}).to_string())
            .send()
            .status,
        201
    );
    assert_eq!(
        api(&w, "POST", path, admin())
            .body(json!({"name": "stable"}).to_string())
            .send()
            .status,
        409
    );
    let r = curl("GET", &w.url("/v2/arts/team/app/manifests/stable"))
        .arg("-u")
        .arg(&admin_auth)
        .send();
    assert_eq!(r.header("docker-content-digest"), Some(sdigest.as_str()));
    let tags = api(&w, "GET", path, viewer).send().json();
    assert_eq!(tags.as_array().unwrap().len(), 2);
    assert_eq!(
        api(&w, "DELETE", &format!("{path}/stable"), admin())
            .send()
            .status,
        200
    );

    // Pulls are counted (HEAD is not a pull) and written within a couple of seconds.
    std::thread::sleep(Duration::from_millis(1500)); // the pull of `stable` above is written
    let before = api(
        &w,
        "GET",
        "/projects/arts/repositories/team%252Fapp/artifacts/v1",
        viewer,
    )
    .send()
    .json();
    assert_eq!(before["pull_count"], json!(1), "{before}");
    for _ in 0..2 {
        assert_eq!(
            curl("GET", &w.url("/v2/arts/team/app/manifests/v1"))
                .arg("-u")
                .arg(&admin_auth)
                .send()
                .status,
            200
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let a = api(
            &w,
            "GET",
            "/projects/arts/repositories/team%252Fapp/artifacts/v1",
            viewer,
        )
        .send()
        .json();
        if a["pull_count"] == json!(3) {
            break a;
        }
        assert!(Instant::now() < deadline, "pulls not counted: {a}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        after["pull_time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{after}"
    );
    assert_eq!(
        api(&w, "GET", "/projects/arts/repositories", viewer)
            .send()
            .json()[0]["pull_count"],
        3
    );

    // Deleting the artifact takes its accessories with it.
    let one = format!("/projects/arts/repositories/team%252Fapp/artifacts/{sdigest}");
    assert_eq!(api(&w, "DELETE", &one, viewer).send().status, 403);
    assert_eq!(api(&w, "DELETE", &one, admin()).send().status, 200);
    assert_eq!(api(&w, "GET", &one, admin()).send().status, 404);
    let r = curl(
        "GET",
        &w.url(&format!("/v2/arts/team/app/referrers/{sdigest}")),
    )
    .arg("-u")
    .arg(&admin_auth)
    .send();
    assert_eq!(r.json()["manifests"], json!([]));
    // And the repository itself.
    assert_eq!(
        api(
            &w,
            "DELETE",
            "/projects/arts/repositories/team%252Fapp",
            admin()
        )
        .send()
        .status,
        200
    );
    assert_eq!(
        api(&w, "GET", "/projects/arts/repositories", admin())
            .send()
            .json(),
        json!([])
    );
}

#[test]
fn openapi_document_is_served_and_valid() {
    require("openapi-spec-validator");
    let w = start();
    let r = curl("GET", &w.url("/api/v2.0/openapi.json")).send();
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["paths"]["/projects"]["post"]["summary"].is_string());
    assert!(doc["paths"]["/robots/{robot_id}"]["patch"].is_object());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &r.body).unwrap();
    let out = run(Command::new("openapi-spec-validator").arg(&file));
    assert!(out.contains("OK"), "{out}");

    // Every GET with a response schema, called for real, answers what the document says.
    create_project(&w, "team", false);
    assert_eq!(push_as(&w, ("admin", ADMIN_PW), "team/app", "v1"), 201);
    push_cosign_tag(&w, "team/app", "v1");
    let uid = create_user(&w, "member1");
    add_member(&w, "team", "member1", 2);
    let mid = api(&w, "GET", "/projects/team/members", admin())
        .send()
        .json()[0]["id"]
        .as_i64()
        .unwrap();
    let robot = json!({"name": "ci", "level": "project", "duration": -1,
        "permissions": [{"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "pull"}]}]});
    let created = api(&w, "POST", "/robots", admin())
        .body(robot.to_string())
        .send();
    assert_eq!(created.status, 201);
    let rid = created.json()["id"].as_i64().unwrap();
    let mut checks: Vec<Value> =
        vec![json!({"schema": "RobotCreated", "path": "POST /robots", "body": created.json()})];
    let refreshed = api(&w, "PATCH", &format!("/robots/{rid}"), admin())
        .body("{}")
        .send();
    checks.push(json!({"schema": "RobotSec", "path": "PATCH /robots", "body": refreshed.json()}));
    // Lifecycle: an immutability rule, a retention policy with a finished run (a job).
    let team_id = api(&w, "GET", "/projects/team", admin()).send().json()["project_id"]
        .as_i64()
        .unwrap();
    let selectors = json!({
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}});
    let r = api(&w, "POST", "/projects/team/immutabletagrules", admin())
        .body(selectors.to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let mut rule = selectors.clone();
    rule["template"] = json!("always");
    let policy = json!({"rules": [rule], "scope": {"level": "project", "ref": team_id}});
    let r = api(&w, "POST", "/retentions", admin())
        .body(policy.to_string())
        .send();
    let retention_id = common::tag_rules::created_id(&r).to_string();
    let r = api(
        &w,
        "POST",
        &format!("/retentions/{retention_id}/executions"),
        admin(),
    )
    .body(r#"{"dry_run":true}"#)
    .send();
    let execution_id = common::tag_rules::created_id(&r).to_string();
    // A GC run and a scrub run, for /jobs, /system/gc and /system/scrub.
    let started = |path: &str, body: Value| {
        let r = api(&w, "POST", path, admin()).body(body.to_string()).send();
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.header("location")
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    let gc_id = started(
        "/system/gc/schedule",
        json!({"schedule": {"type": "Manual"}, "parameters": {"dry_run": true}}),
    );
    let scrub_id = started("/system/scrub", json!({}));
    // A webhook policy and one delivery (to a closed port: the execution exists whatever
    // its status), for /projects/{p}/webhook/…
    let hook_id = started(
        "/projects/team/webhook/policies",
        json!({"name": "doc", "event_types": ["PULL_ARTIFACT"],
               "targets": [{"type": "http", "address": "http://127.0.0.1:9/"}]}),
    );
    let r = curl("GET", &w.url("/v2/team/app/manifests/v1"))
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"))
        .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let hook_deadline = std::time::Instant::now() + Duration::from_secs(30);
    let hook_execution = loop {
        let e = api(
            &w,
            "GET",
            &format!("/projects/team/webhook/policies/{hook_id}/executions"),
            admin(),
        )
        .send()
        .json();
        if let Some(id) = e[0]["id"].as_i64() {
            break id.to_string();
        }
        assert!(
            std::time::Instant::now() < hook_deadline,
            "webhook execution: {e}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // A registry endpoint (replication), with a credential to show masked.
    let registry_id = started(
        "/registries",
        json!({"name": "self", "url": w.url(""), "type": "harbor",
            "credential": {"type": "basic", "access_key": "admin", "access_secret": ADMIN_PW}}),
    );
    let policy_id = started(
        "/replication/policies",
        json!({"name": "to-self", "dest_registry": {"id": registry_id.parse::<i64>().unwrap()},
            "filters": [{"type": "tag", "value": "v*"}], "trigger": {"type": "manual"}}),
    );
    // A CVE export of the team project (a job; its execution is read below).
    let export = api(&w, "POST", "/export/cve", admin())
        .body(json!({"job_name": "openapi", "projects": [team_id]}).to_string())
        .send();
    assert_eq!(
        export.status,
        200,
        "{}",
        String::from_utf8_lossy(&export.body)
    );
    let export_id = export.json()["id"].as_i64().unwrap().to_string();
    let replication_id = started(
        "/replication/executions",
        json!({"policy_id": policy_id.parse::<i64>().unwrap()}),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let job_id = loop {
        let e = api(
            &w,
            "GET",
            &format!("/retentions/{retention_id}/executions"),
            admin(),
        )
        .send()
        .json();
        let jobs = api(&w, "GET", "/jobs", admin()).send().json();
        let all_done = jobs
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["status"] == "Success");
        if e[0]["status"] == "Success" && all_done {
            break jobs[0]["id"].as_i64().unwrap().to_string();
        }
        assert!(std::time::Instant::now() < deadline, "retention run: {e}");
        std::thread::sleep(Duration::from_millis(200));
    };
    // A user group (OIDC type: it needs no directory) for /usergroups.
    let r = api(&w, "POST", "/usergroups", admin())
        .body(json!({"group_type": 3, "group_name": "auditors"}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let group_id = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    // A global label, on the artifact (so artifact bodies carry a Label to check).
    let r = api(&w, "POST", "/labels", admin())
        .body(json!({"name": "approved", "color": "#48960C", "scope": "g"}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let label_id = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let r = api(
        &w,
        "POST",
        "/projects/team/repositories/app/artifacts/v1/labels",
        admin(),
    )
    .body(json!({ "id": label_id.parse::<i64>().unwrap() }).to_string())
    .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut exercised = 0;
    for (path, methods) in doc["paths"].as_object().unwrap() {
        // Directory searches need an LDAP server: tests/ldap.rs runs them against slapd.
        if path.starts_with("/ldap/") {
            continue;
        }
        let Some(schema) =
            methods["get"]["responses"]["200"]["content"]["application/json"]["schema"].as_object()
        else {
            continue;
        };
        let name = schema
            .get("$ref")
            .or(schema.get("items").and_then(|i| i.get("$ref")))
            .and_then(Value::as_str)
            .unwrap();
        let name = name.rsplit('/').next().unwrap();
        let is_array = schema.contains_key("items");
        let real = path
            .replace("{project_name_or_id}", "team")
            .replace("{project_name}", "team")
            .replace("{repository_name}", "app")
            .replace("{reference}", "v1")
            .replace("{mid}", &mid.to_string())
            .replace("{user_id}", &uid.to_string())
            .replace("{robot_id}", &rid.to_string())
            .replace("{job_id}", &job_id)
            .replace("{gc_id}", &gc_id)
            .replace("{scrub_id}", &scrub_id)
            .replace("{eid}", &execution_id)
            .replace("{webhook_policy_id}", &hook_id)
            .replace(
                "{execution_id}",
                if path.starts_with("/export/cve/") {
                    &export_id
                } else {
                    &hook_execution
                },
            )
            .replace("{group_id}", &group_id)
            .replace("{label_id}", &label_id)
            .replace(
                "{id}",
                &if path.starts_with("/quotas/") {
                    team_id.to_string()
                } else if path.starts_with("/registries/") {
                    registry_id.clone()
                } else if path.starts_with("/replication/policies/") {
                    policy_id.clone()
                } else if path.starts_with("/replication/executions/") {
                    replication_id.clone()
                } else {
                    retention_id.clone()
                },
            );
        let query = if path.ends_with("/artifacts/{reference}") {
            "?with_scan_overview=true&with_sbom_overview=true&with_signature=true&with_accessory=true"
        } else if path.ends_with("/artifacts") {
            "?with_accessory=true"
        } else {
            ""
        };
        let r = api(&w, "GET", &format!("{real}{query}"), admin()).send();
        assert_eq!(
            r.status,
            200,
            "GET {real}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let body = r.json();
        // Without scanning there are no findings: the Security Hub's list is
        // checked item by item in server_scan.rs, where artifacts are scanned.
        let may_be_empty = ["/security/vul", "/vul/vulnerabilities"].contains(&real.as_str());
        if is_array {
            assert!(
                may_be_empty || !body.as_array().unwrap().is_empty(),
                "GET {real} returned no items to check"
            );
            for item in body.as_array().unwrap() {
                checks.push(json!({"schema": name, "path": real, "body": item}));
            }
        } else {
            checks.push(json!({"schema": name, "path": real, "body": body}));
        }
        exercised += 1;
    }
    assert!(exercised >= 15, "only {exercised} GET operations checked");
    let checks_file = dir.path().join("checks.json");
    std::fs::write(&checks_file, serde_json::to_vec(&checks).unwrap()).unwrap();
    // OpenAPI 3.0's `nullable` becomes JSON Schema's `null` type; `$ref`s resolve inside the document.
    let script = r##"
import json, sys, jsonschema
doc = json.load(open(sys.argv[1])); checks = json.load(open(sys.argv[2]))
def fix(v):
    if isinstance(v, dict):
        v = {k: fix(x) for k, x in v.items()}
        if v.pop("nullable", False):
            return {"anyOf": [v, {"type": "null"}]}
        return v
    if isinstance(v, list):
        return [fix(x) for x in v]
    return v
components = fix(doc["components"])
bad = []
for c in checks:
    schema = {"$ref": "#/components/schemas/" + c["schema"], "components": components}
    for e in jsonschema.Draft202012Validator(schema).iter_errors(c["body"]):
        bad.append(f'{c["path"]} ({c["schema"]}): {e.message} at {list(e.absolute_path)}')
print(chr(10).join(bad) if bad else f"{len(checks)} responses valid")
sys.exit(1 if bad else 0)
"##;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&file)
        .arg(&checks_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "responses disagree with the OpenAPI document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn access_control_is_on_by_default_and_off_only_when_asked() {
    // A first start with no flags and no password: `admin` gets a generated password,
    // printed once on stdout (never in the log).
    let fresh = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let serve = |data: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let wait_up = || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while curl("GET", &format!("http://127.0.0.1:{port}/v2/"))
            .send()
            .status
            == 0
        {
            assert!(Instant::now() < deadline, "wharf did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mut child = serve(&fresh.path().join("data"));
    let mut line = String::new();
    // Kept open while the server runs: it writes more than the one line read here.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let generated = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(line.contains("admin") && generated.len() >= 16, "{line}");
    wait_up();
    let url = format!("http://127.0.0.1:{port}/v2/");
    assert_eq!(curl("GET", &url).send().status, 401);
    assert_eq!(
        curl("GET", &url)
            .arg("-u")
            .arg(&format!("admin:{generated}"))
            .send()
            .status,
        200
    );
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(&generated),
        "the password is not logged"
    );
    // Restarted with no flags: still on, and no new password.
    let mut child = serve(&fresh.path().join("data"));
    wait_up();
    assert_eq!(curl("GET", &url).send().status, 401);
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "printed once only"
    );

    let dir = tempfile::tempdir().unwrap();
    let w = Wharf::start_env(dir.path(), &[], &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)]);
    assert_eq!(curl("GET", &w.url("/v2/")).send().status, 401);
    drop(w);
    // Restarted without the password: the users are there, so is access control.
    let w = Wharf::start_in(dir.path(), &["--auth"]);
    assert_eq!(curl("GET", &w.url("/v2/")).send().status, 401);
    assert_eq!(
        curl("GET", &w.url("/v2/"))
            .arg("-u")
            .arg(&format!("admin:{ADMIN_PW}"))
            .send()
            .status,
        200
    );
    drop(w);
    // Only an explicit --auth=false turns it off, with a warning.
    let w = Wharf::start_in(dir.path(), &["--auth=false"]);
    assert_eq!(curl("GET", &w.url("/v2/")).send().status, 200);
    assert!(w.log_text().contains("authentication is switched off"));
}

/// `_` is legal in project names and is SQL LIKE's one-character wildcard: a
/// member (even the admin) of project `a_b` must not list, count, see or delete
/// anything of project `axb`, through the management API or /v2.
#[test]
fn projects_whose_names_differ_at_an_underscore_are_isolated() {
    let w = start();
    create_project(&w, "a_b", false);
    create_project(&w, "axb", false);
    create_user(&w, "abadmin");
    add_member(&w, "a_b", "abadmin", 1);
    let member = Some(("abadmin", "Passw0rd!"));
    let member_auth = "abadmin:Passw0rd!";
    let admin_auth = format!("admin:{ADMIN_PW}");
    assert_eq!(push_as(&w, ("admin", ADMIN_PW), "axb/secret", "v1"), 201);
    assert_eq!(push_as(&w, ("abadmin", "Passw0rd!"), "a_b/app", "v1"), 201);
    // axb/secret's manifest, its config blob, and a referrer naming it.
    let head = curl("HEAD", &w.url("/v2/axb/secret/manifests/v1"))
        .arg("-u")
        .arg(&admin_auth)
        .send();
    let secret = head.header("docker-content-digest").unwrap().to_string();
    let secret_size: u64 = head.header("content-length").unwrap().parse().unwrap();
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let config_digest = common::sha256(config);
    let sig = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": secret, "size": secret_size}})
    .to_string();
    let sig_digest = common::sha256(sig.as_bytes());
    let r = curl(
        "PUT",
        &w.url(&format!("/v2/axb/secret/manifests/{sig_digest}")),
    )
    .arg("-u")
    .arg(&admin_auth)
    .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
    .body(sig)
    .send();
    assert_eq!(r.status, 201);
    // Whatever answers 200 must not mention axb or its content.
    let no_leak = |what: &str, r: &common::Resp| {
        if r.status == 200 {
            let body = String::from_utf8_lossy(&r.body);
            for secret_text in ["axb", secret.as_str(), sig_digest.as_str()] {
                assert!(
                    !body.contains(secret_text),
                    "{what} shows {secret_text}: {body}"
                );
            }
        }
    };

    // a_b's own listings and counts hold a_b's repository only.
    let r = api(&w, "GET", "/projects/a_b/repositories", member).send();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-total-count"), Some("1"));
    assert_eq!(r.json(), json!([r.json()[0].clone()]));
    assert_eq!(r.json()[0]["name"], "a_b/app");
    assert_eq!(
        api(&w, "GET", "/projects/a_b", member).send().json()["repo_count"],
        1
    );
    let projects = api(&w, "GET", "/projects", member).send().json();
    let seen: Vec<(String, i64)> = projects
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["repo_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen, [("a_b".to_string(), 1), ("library".to_string(), 0)]);
    // Searching projects by name is a substring match, even for the admin who sees both.
    for who in [member, admin()] {
        let found = api(&w, "GET", "/projects?name=a_b", who).send();
        assert_eq!(found.header("x-total-count"), Some("1"));
        assert_eq!(found.json()[0]["name"], "a_b");
    }

    // axb by its own paths: not found for a non-member of a private project.
    for path in [
        "/projects/axb",
        "/projects/axb/repositories",
        "/projects/axb/repositories/secret/artifacts",
        "/projects/axb/repositories/secret/artifacts/v1",
        "/projects/axb/repositories/secret/artifacts/v1/tags",
        "/projects/axb/repositories/secret/artifacts/v1/additions/vulnerabilities",
        "/projects/axb/members",
        "/projects/axb/logs",
        "/projects/axb/summary",
    ] {
        let r = api(&w, "GET", path, member).send();
        assert!(matches!(r.status, 403 | 404), "GET {path}: {}", r.status);
    }
    // a_b's paths and searches reach nothing of axb.
    for path in [
        "/projects/a_b/repositories/secret/artifacts",
        "/projects/a_b/repositories/secret/artifacts/v1",
        "/projects/a_b/summary",
        "/projects?name=axb",
        "/search?q=axb",
        "/search?q=secret",
        "/audit-logs",
        "/projects/a_b/logs",
    ] {
        no_leak(path, &api(&w, "GET", path, member).send());
    }
    for path in [
        "/projects/axb",
        "/projects/axb/repositories/secret",
        "/projects/axb/repositories/secret/artifacts/v1",
        "/projects/axb/repositories/secret/artifacts/v1/tags/v1",
        "/projects/a_b/repositories/..%2Faxb%2Fsecret",
    ] {
        let r = api(&w, "DELETE", path, member).send();
        assert!(
            matches!(r.status, 400 | 403 | 404),
            "DELETE {path}: {}",
            r.status
        );
    }

    // /v2: no token grants anything of axb, Basic credentials reach nothing.
    let (_, t) = token(
        &w,
        member,
        &[
            "repository:axb/secret:pull,push,delete",
            "registry:catalog:*",
        ],
    );
    assert!(granted_actions(&t).is_empty(), "{t}");
    for (method, path) in [
        ("GET", "/v2/axb/secret/manifests/v1".to_string()),
        ("HEAD", "/v2/axb/secret/manifests/v1".to_string()),
        ("GET", format!("/v2/axb/secret/manifests/{secret}")),
        ("GET", "/v2/axb/secret/tags/list".to_string()),
        ("GET", format!("/v2/axb/secret/blobs/{config_digest}")),
        ("HEAD", format!("/v2/axb/secret/blobs/{config_digest}")),
        ("GET", format!("/v2/axb/secret/referrers/{secret}")),
        ("POST", "/v2/axb/secret/blobs/uploads/".to_string()),
        ("DELETE", format!("/v2/axb/secret/manifests/{sig_digest}")),
        ("DELETE", format!("/v2/axb/secret/manifests/{secret}")),
        ("DELETE", format!("/v2/axb/secret/blobs/{config_digest}")),
    ] {
        let r = curl(method, &w.url(&path))
            .arg("-u")
            .arg(member_auth)
            .send();
        assert!(
            matches!(r.status, 401 | 403 | 404),
            "{method} {path}: {}",
            r.status
        );
        let r = bearer(curl(method, &w.url(&path)), &t).send();
        assert!(
            matches!(r.status, 401 | 403 | 404),
            "{method} {path} with a token: {}",
            r.status
        );
    }
    let r = curl("GET", &w.url("/v2/_catalog"))
        .arg("-u")
        .arg(member_auth)
        .send();
    no_leak("catalog", &r);

    // Nothing of axb changed.
    let r = curl("GET", &w.url(&format!("/v2/axb/secret/referrers/{secret}")))
        .arg("-u")
        .arg(&admin_auth)
        .send();
    assert_eq!(r.json()["manifests"][0]["digest"], sig_digest.as_str());
    let r = api(&w, "GET", "/projects/axb/repositories", admin()).send();
    assert_eq!(r.json()[0]["name"], "axb/secret");
    assert_eq!(r.header("x-total-count"), Some("1"));

    // Emptied, a_b can be deleted: axb's repositories are not a_b's.
    let r = api(&w, "DELETE", "/projects/a_b/repositories/app", member).send();
    assert_eq!(r.status, 200);
    let r = api(&w, "DELETE", "/projects/a_b", member).send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        api(&w, "DELETE", "/projects/axb", admin()).send().status,
        412,
        "axb still has its repository"
    );
}

/// Harbor's artifact size: the manifest plus its config and layers; an index
/// adds its children's sizes. Expected sizes come from the image layout's files.
#[test]
fn artifact_size_counts_config_layers_and_children() {
    require("skopeo");
    let w = start();
    let layout = common::test_images().join("oci");
    // Sizes of the layout's own blob files, independent of the registry.
    let path = |dir: &str, digest: &str| {
        layout
            .join(dir)
            .join("blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap())
    };
    let file_size = |dir: &str, digest: &str| std::fs::metadata(path(dir, digest)).unwrap().len();
    let manifest = |dir: &str, digest: &str| -> Value {
        serde_json::from_slice(&std::fs::read(path(dir, digest)).unwrap()).unwrap()
    };
    let image_size = |dir: &str, digest: &str| -> u64 {
        let (size, manifest) = (file_size(dir, digest), manifest(dir, digest));
        let config = manifest["config"]["digest"].as_str().unwrap();
        let layers: u64 = manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| file_size(dir, l["digest"].as_str().unwrap()))
            .sum();
        size + file_size(dir, config) + layers
    };
    let tagged = |dir: &str, tag: &str| -> String {
        let index: Value =
            serde_json::from_slice(&std::fs::read(layout.join(dir).join("index.json")).unwrap())
                .unwrap();
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let pyapp = tagged("pyapp", "v1");
    let pyapp_size = image_size("pyapp", &pyapp);
    let multi = tagged("multi", "v1");
    let (index_size, index) = (file_size("multi", &multi), manifest("multi", &multi));
    let children: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    let multi_size = index_size + children.iter().map(|c| image_size("multi", c)).sum::<u64>();
    assert!(pyapp_size > 50_000_000, "pyapp is the ~100 MB image");

    let creds = format!("admin:{ADMIN_PW}");
    for (image, repo, all) in [("pyapp", "app", false), ("multi", "multi", true)] {
        let mut copy = Command::new("skopeo");
        copy.args(["copy", "--dest-tls-verify=false", "--dest-creds", &creds]);
        if all {
            copy.arg("--all");
        }
        run(copy
            .arg(oci_ref(image, "v1"))
            .arg(format!("docker://{}/library/{repo}:v1", w.host())));
    }
    let artifact = |repo: &str| {
        api(
            &w,
            "GET",
            &format!("/projects/library/repositories/{repo}/artifacts/v1"),
            admin(),
        )
        .send()
        .json()
    };
    let got = artifact("app");
    assert_eq!(got["digest"], pyapp.as_str(), "skopeo kept the digest");
    assert_eq!(got["size"], pyapp_size);
    let got = artifact("multi");
    assert_eq!(got["digest"], multi.as_str());
    assert_eq!(got["size"], multi_size);
    // The list reports the same sizes: each child of the index is an artifact too.
    let list = api(
        &w,
        "GET",
        "/projects/library/repositories/multi/artifacts",
        admin(),
    )
    .send()
    .json();
    let sizes: std::collections::HashMap<String, u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["digest"].as_str().unwrap().to_string(),
                a["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sizes[&multi], multi_size);
    for c in &children {
        assert_eq!(sizes[c], image_size("multi", c), "{c}");
    }
}

/// cosign's tag layout, made by the real `wharf sign` and `wharf attest`
/// (`sha256-<hex>.sig` / `.att` tags): the artifact list shows the image alone, with
/// the signature and the attestation as its accessories (`with_accessory`, and
/// `…/accessories`); the repository's `artifact_count` agrees with the list.
#[test]
fn cosign_signatures_are_accessories_not_artifacts() {
    require("skopeo");
    let w = start();
    create_project(&w, "signed", false);
    let admin_auth = format!("admin:{ADMIN_PW}");
    run(Command::new("skopeo")
        .args([
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &admin_auth,
        ])
        .arg(oci_ref("small", "v1"))
        .arg(format!("docker://{}/signed/app:v1", w.host())));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("prov.json"),
        r#"{"buildType":"https://example.com/ci"}"#,
    )
    .unwrap();
    let env = [
        ("COSIGN_PASSWORD", "test-password"),
        ("WHARF_USERNAME", "admin"),
        ("WHARF_PASSWORD", ADMIN_PW),
    ];
    let wharf = |args: &[&str]| common::stdout_ok(&common::wharf_in(d, &env, args));
    wharf(&["key", "generate"]);
    let image = format!("{}/signed/app:v1", w.host());
    wharf(&["sign", "--insecure", "--key", "cosign.key", &image]);
    wharf(&[
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
    // What /v2 says, independently of the management API: the image's digest and
    // the manifests cosign's two tags point at.
    let head = |reference: &str| {
        let r = curl(
            "HEAD",
            &w.url(&format!("/v2/signed/app/manifests/{reference}")),
        )
        .arg("-u")
        .arg(&admin_auth)
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send();
        assert_eq!(r.status, 200, "{reference}");
        r.header("docker-content-digest").unwrap().to_string()
    };
    let subject = head("v1");
    let hex = subject.trim_start_matches("sha256:");
    let sig = head(&format!("sha256-{hex}.sig"));
    let att = head(&format!("sha256-{hex}.att"));
    let tags = curl("GET", &w.url("/v2/signed/app/tags/list"))
        .arg("-u")
        .arg(&admin_auth)
        .send()
        .json();
    assert_eq!(
        tags["tags"].as_array().unwrap().len(),
        3,
        "the tags stay: {tags}"
    );

    let list = api(
        &w,
        "GET",
        "/projects/signed/repositories/app/artifacts?with_accessory=true",
        admin(),
    )
    .send()
    .json();
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["digest"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [subject.as_str()], "{list}");
    let accessories = |v: &Value| {
        let mut got: Vec<(String, String)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                assert_eq!(a["subject_artifact_digest"], subject.as_str(), "{a}");
                assert_eq!(a["subject_artifact_repo"], "signed/app", "{a}");
                (
                    a["type"].as_str().unwrap().to_string(),
                    a["digest"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        got.sort();
        got
    };
    let want = vec![
        ("attestation".to_string(), att.clone()),
        ("signature.cosign".to_string(), sig.clone()),
    ];
    assert_eq!(accessories(&list[0]["accessories"]), want);
    // Without the flag, as Harbor: no accessories field.
    let plain = api(
        &w,
        "GET",
        "/projects/signed/repositories/app/artifacts",
        admin(),
    )
    .send()
    .json();
    assert_eq!(plain.as_array().unwrap().len(), 1);
    assert!(plain[0].get("accessories").is_none(), "{plain}");
    let own = api(
        &w,
        "GET",
        "/projects/signed/repositories/app/artifacts/v1/accessories",
        admin(),
    )
    .send();
    assert_eq!(own.status, 200);
    assert_eq!(own.header("x-total-count"), Some("2"));
    assert_eq!(accessories(&own.json()), want);
    // The repository counts what the list shows.
    let repos = api(&w, "GET", "/projects/signed/repositories", admin())
        .send()
        .json();
    assert_eq!(repos[0]["artifact_count"], 1, "{repos}");
}
