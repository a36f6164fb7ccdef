//! OIDC login against a real OpenID provider: panva's `oidc-provider` (OpenID
//! Certified), started by tests/fixtures/oidc/provider.mjs with a client for Wharf,
//! users with passwords and a `groups` claim. The code flow is driven as a browser
//! does (curl with a cookie jar: Wharf's redirect, the provider's login and consent
//! forms, the redirect back); the CLI secret is then used by skopeo. Expected users
//! and groups are the fixture's.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::identity::{ADMIN, ADMIN_PW, api, audit_until, oci_layout, skopeo_copy, text};
use common::{Curl, Resp, Wharf, curl, require, run};
use serde_json::{Value, json};

const CLIENT_SECRET: &str = "Wharf-Client-Secret-7";

fn fixture_dir() -> PathBuf {
    common::repo_root().join("tests/fixtures/oidc")
}

/// The provider, a node process on a fixed port (restarted on the same one).
struct Provider {
    port: u16,
    redirect_uri: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Provider {
    fn start(redirect_uri: &str, log_dir: &Path) -> Provider {
        require("node");
        let dir = fixture_dir();
        if !dir.join("node_modules/oidc-provider").exists() {
            run(Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir));
        }
        let mut p = Provider {
            port: common::free_port(),
            redirect_uri: redirect_uri.to_string(),
            child: None,
            log: log_dir.join("provider.log"),
        };
        p.run("a");
        p
    }

    /// Start on this port with key set `keys` (another set = the provider rotated its key).
    fn run(&mut self, keys: &str) {
        let child = Command::new("node")
            .arg(fixture_dir().join("provider.mjs"))
            .env("PORT", self.port.to_string())
            .env("REDIRECT_URI", &self.redirect_uri)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("KEY_SET", keys)
            // Access tokens expire fast, so CLI secrets are re-checked with the
            // refresh token during the test.
            .env("ACCESS_TTL", "5")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&self.log).unwrap())
            .spawn()
            .expect("starting the OpenID provider");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while curl("GET", &self.url("/.well-known/openid-configuration"))
            .send()
            .status
            != 200
        {
            assert!(
                Instant::now() < deadline,
                "the provider did not start: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The next ID token is re-signed with this change (see provider.mjs).
    fn tamper(&self, how: Value) {
        let r = curl("POST", &self.url("/__tamper"))
            .header("Content-Type", "application/json")
            .body(how.to_string())
            .send();
        assert_eq!(r.status, 204);
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A browser: cookies kept, redirects looked at one by one.
struct Browser {
    _dir: tempfile::TempDir,
    jar: String,
}

impl Browser {
    fn new() -> Browser {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("cookies").display().to_string();
        Browser { _dir: dir, jar }
    }

    fn req(&self, method: &str, url: &str) -> Curl {
        curl(method, url)
            .arg("-b")
            .arg(&self.jar)
            .arg("-c")
            .arg(&self.jar)
    }
}

/// The value of the first `action="…"` in an HTML page.
fn form_action(html: &str) -> String {
    let start = html.find("action=\"").expect("a form") + 8;
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

/// Log in at the provider as a browser would, from Wharf's `/c/oidc/login` to the
/// URL the provider sends the browser back to (returned, not fetched).
fn provider_login(w: &Wharf, p: &Provider, user: &str, password: &str) -> String {
    let b = Browser::new();
    let r = b.req("GET", &w.url("/c/oidc/login")).send();
    assert_eq!(r.status, 303, "{}", text(&r));
    let mut next = r.header("location").unwrap().to_string();
    assert!(next.starts_with(&p.url("/auth?")), "{next}");
    for _ in 0..20 {
        if next.starts_with(&w.url("/c/oidc/callback")) {
            return next;
        }
        let url = if next.starts_with('/') {
            p.url(&next)
        } else {
            next.clone()
        };
        let r = b.req("GET", &url).send();
        let r = if r.status == 200 {
            let page = text(&r);
            let action = p.url(&form_action(&page));
            let form = if page.contains("name=\"login\"") {
                format!("login={user}&password={password}")
            } else {
                String::new()
            };
            let r = b
                .req("POST", &action)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form)
                .send();
            assert!(
                (300..400).contains(&r.status),
                "{action}: {} {}",
                r.status,
                text(&r)
            );
            r
        } else {
            r
        };
        assert!(
            (300..400).contains(&r.status),
            "{url}: {} {}",
            r.status,
            text(&r)
        );
        next = r.header("location").unwrap().to_string();
    }
    panic!("the provider never sent the browser back to Wharf");
}

/// The callback as the browser's last step, answered in JSON.
fn callback(callback_url: &str) -> Resp {
    curl("GET", callback_url)
        .header("Accept", "application/json")
        .send()
}

/// Log in through the provider; the user's CLI secret from the callback page.
/// The callback also opens a portal session: its cookie shows the portal as `user`.
fn login(w: &Wharf, p: &Provider, user: &str, password: &str) -> String {
    let r = callback(&provider_login(w, p, user, password));
    assert_eq!(r.status, 200, "{}", text(&r));
    let cookie = r
        .header("set-cookie")
        .expect("the callback opens a portal session")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("wharf_session="), "{cookie}");
    let page = curl("GET", &w.url("/projects"))
        .header("Cookie", &cookie)
        .send();
    assert_eq!(page.status, 200, "{}", text(&page));
    assert!(
        text(&page).contains(user),
        "the portal shows who is logged in"
    );
    let body = r.json();
    assert_eq!(body["username"], user);
    body["oidc_user_meta"]["secret"]
        .as_str()
        .unwrap()
        .to_string()
}

fn code_of(callback_url: &str) -> String {
    let q = callback_url.split_once('?').unwrap().1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix("code="))
        .unwrap()
        .to_string()
}

#[test]
fn oidc_users_log_in_through_a_real_provider_and_push_with_their_cli_secret() {
    require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("w")).unwrap();
    let w = Wharf::start_env(
        &tmp.path().join("w"),
        &["--auth"],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    );
    let mut p = Provider::start(&w.url("/c/oidc/callback"), tmp.path());

    // Before the mode is oidc_auth, there is no OIDC login.
    let r = curl("GET", &w.url("/c/oidc/login")).send();
    assert_eq!(r.status, 412, "{}", text(&r));

    // Configuration through Harbor's API; the client secret is never shown.
    let settings = json!({
        "auth_mode": "oidc_auth",
        "oidc_name": "Test IdP",
        "oidc_endpoint": p.url(""),
        "oidc_client_id": "wharf",
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_scope": "openid,profile,email,groups,offline_access",
        "oidc_verify_cert": true,
        "oidc_auto_onboard": true,
        "oidc_user_claim": "preferred_username",
        "oidc_groups_claim": "groups",
        "oidc_admin_group": "registry-admins",
    });
    let r = api(&w, "PUT", "/configurations", ADMIN)
        .body(settings.to_string())
        .send();
    assert_eq!(r.status, 200, "{}", text(&r));
    let cfg = api(&w, "GET", "/configurations", ADMIN).send().json();
    assert_eq!(cfg["auth_mode"]["value"], "oidc_auth");
    assert_eq!(cfg["oidc_endpoint"]["value"], p.url(""));
    assert_eq!(cfg["oidc_groups_claim"]["value"], "groups");
    assert!(cfg.get("oidc_client_secret").is_none(), "{cfg}");
    assert!(!cfg.to_string().contains(CLIENT_SECRET));
    let info = curl("GET", &w.url("/api/v2.0/systeminfo")).send().json();
    assert_eq!(info["auth_mode"], "oidc_auth");
    assert_eq!(info["oidc_provider_name"], "Test IdP");

    // A private project; the provider's groups hold its roles.
    let r = api(&w, "POST", "/projects", ADMIN)
        .body(json!({"project_name": "dev", "metadata": {"public": "false"}}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", text(&r));
    for (group, role) in [("developers", 2), ("guests", 3)] {
        let r = api(&w, "POST", "/usergroups", ADMIN)
            .body(json!({"group_name": group, "group_type": 3}).to_string())
            .send();
        assert_eq!(r.status, 201, "{}", text(&r));
        let r = api(&w, "POST", "/projects/dev/members", ADMIN)
            .body(
                json!({"role_id": role, "member_group": {"group_name": group, "group_type": 3}})
                    .to_string(),
            )
            .send();
        assert_eq!(r.status, 201, "{group}: {}", text(&r));
    }

    // The portal's login page offers the provider.
    let page = curl("GET", &w.url("/login")).send();
    assert!(
        text(&page).contains("href=\"/c/oidc/login\""),
        "{}",
        text(&page)
    );
    // alice logs in through the provider; onboarded, with a CLI secret.
    let alice = login(&w, &p, "alice", "Alice-Passw0rd");
    let me = api(&w, "GET", "/users/current", ("alice", &alice)).send();
    assert_eq!(me.status, 200, "{}", text(&me));
    let me = me.json();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["sysadmin_flag"], false);
    assert_eq!(me["oidc_user_meta"]["secret"], alice.as_str());
    assert_eq!(
        me["oidc_user_meta"]["subiss"],
        format!("alice{}", p.url(""))
    );
    let alice_id = me["user_id"].as_i64().unwrap();
    // The same login in a real browser: the portal's link, the provider's pages,
    // the callback's CLI secret, then the portal as alice.
    require("chromium");
    let node = Command::new("node")
        .arg(common::portal_node_modules().join("oidc-login.mjs"))
        .current_dir(common::portal_node_modules())
        .env("WHARF_URL", w.url(""))
        .env("OIDC_USER", "alice")
        .env("OIDC_PASSWORD", "Alice-Passw0rd")
        .env(
            "SHOTS",
            common::repo_root().join("target/portal-screenshots"),
        )
        .output()
        .unwrap();
    assert!(
        node.status.success(),
        "oidc-login.mjs: {}\n{}",
        String::from_utf8_lossy(&node.stdout),
        String::from_utf8_lossy(&node.stderr)
    );
    let shown: Value = serde_json::from_slice(&node.stdout).unwrap();
    assert_eq!(
        shown["secret"],
        alice.as_str(),
        "the browser saw alice's CLI secret"
    );
    // The secret is its owner's to see: an administrator reading the user does not.
    let as_admin = api(&w, "GET", &format!("/users/{alice_id}"), ADMIN)
        .send()
        .json();
    assert!(as_admin.get("oidc_user_meta").is_none(), "{as_admin}");
    // The provider's password is not a Wharf password.
    assert_eq!(
        api(&w, "GET", "/users/current", ("alice", "Alice-Passw0rd"))
            .send()
            .status,
        401
    );

    // The CLI secret with skopeo: login, push (developers: developer), pull.
    let src = oci_layout(&tmp.path().join("layout"));
    let auth = tmp.path().join("auth.json");
    let out = Command::new("skopeo")
        .args(["login", "--tls-verify=false", "--authfile"])
        .arg(&auth)
        .args(["-u", "alice", "-p", &alice, &w.host()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dest = format!("docker://{}/dev/app:v1", w.host());
    let out = skopeo_copy(&src, &dest, ("alice", &alice));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pulled = tmp.path().join("pulled");
    let out = skopeo_copy(
        &dest,
        &format!("oci:{}:v1", pulled.display()),
        ("alice", &alice),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // bob is in "guests": a guest pulls and may not push.
    let bob = login(&w, &p, "bob", "Bob-Passw0rd");
    let out = skopeo_copy(
        &dest,
        &format!("oci:{}:v1", tmp.path().join("bob").display()),
        ("bob", &bob),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = skopeo_copy(
        &src,
        &format!("docker://{}/dev/app:bob", w.host()),
        ("bob", &bob),
    );
    assert!(!out.status.success(), "a guest pushed");
    // bob may not change alice's secret; and "other" (filtered? no filter set) became a group.
    let r = api(
        &w,
        "PUT",
        &format!("/users/{alice_id}/cli_secret"),
        ("bob", &bob),
    )
    .body(json!({"secret": "Bobs-Choice-1"}).to_string())
    .send();
    assert_eq!(r.status, 403, "{}", text(&r));
    let groups = api(&w, "GET", "/usergroups?group_name=other", ADMIN)
        .send()
        .json();
    assert_eq!(groups[0]["group_name"], "other");
    assert_eq!(groups[0]["group_type"], 3);

    // carol is in the admin group: a system administrator through the provider.
    let carol = login(&w, &p, "carol", "Carol-Passw0rd");
    let me = api(&w, "GET", "/users/current", ("carol", &carol))
        .send()
        .json();
    assert_eq!(me["sysadmin_flag"], false);
    assert_eq!(me["admin_role_in_auth"], true);
    assert_eq!(
        api(&w, "GET", "/configurations", ("carol", &carol))
            .send()
            .status,
        200
    );
    let out = skopeo_copy(
        &src,
        &format!("docker://{}/dev/app:carol", w.host()),
        ("carol", &carol),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Rotation: Harbor's strength rule; the old secret stops at once, the new one works.
    let r = api(
        &w,
        "PUT",
        &format!("/users/{alice_id}/cli_secret"),
        ("alice", &alice),
    )
    .body(json!({"secret": "weak"}).to_string())
    .send();
    assert_eq!(r.status, 400, "{}", text(&r));
    let rotated = "Rotated-Secret-42";
    let r = api(
        &w,
        "PUT",
        &format!("/users/{alice_id}/cli_secret"),
        ("alice", &alice),
    )
    .body(json!({"secret": rotated}).to_string())
    .send();
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(
        api(&w, "GET", "/users/current", ("alice", &alice))
            .send()
            .status,
        401
    );
    let me = api(&w, "GET", "/users/current", ("alice", rotated))
        .send()
        .json();
    assert_eq!(me["oidc_user_meta"]["secret"], rotated);
    let out = skopeo_copy(
        &src,
        &format!("docker://{}/dev/app:v2", w.host()),
        ("alice", rotated),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Logging in again keeps the secret the user chose.
    assert_eq!(login(&w, &p, "alice", "Alice-Passw0rd"), rotated);

    // A replayed callback (same code, state and nonce) is refused.
    let url = provider_login(&w, &p, "bob", "Bob-Passw0rd");
    let codes = vec![code_of(&url)];
    assert_eq!(callback(&url).status, 200);
    let again = callback(&url);
    assert_eq!(again.status, 401, "{}", text(&again));
    assert!(text(&again).contains("already used"), "{}", text(&again));

    // A response claiming another issuer (RFC 9207's mix-up defence) is refused
    // before the code is sent anywhere.
    let url = provider_login(&w, &p, "alice", "Alice-Passw0rd");
    assert!(url.contains("iss="), "{url}");
    let elsewhere = format!(
        "{}&iss=https%3A%2F%2Fevil.example.com",
        url.split("&iss=").next().unwrap()
    );
    let r = callback(&elsewhere);
    assert_eq!(r.status, 401, "{}", text(&r));
    assert!(text(&r).contains("another issuer"), "{}", text(&r));

    // ID tokens the provider's token endpoint hands over, changed and re-signed:
    // for another audience, expired, or signed by a key the provider never published.
    for (how, expect) in [
        (json!({"aud": "someone-else"}), "audience"),
        (json!({"exp": -120}), "xpired"),
        (json!({"foreign_key": true}), "ignature"),
    ] {
        let url = provider_login(&w, &p, "alice", "Alice-Passw0rd");
        p.tamper(how.clone());
        let r = callback(&url);
        assert_eq!(r.status, 401, "{how}: {}", text(&r));
        assert!(text(&r).contains(expect), "{how}: {}", text(&r));
    }
    audit_until(&w, |e| {
        e.iter()
            .any(|e| e["operation"] == "login_failed" && e["resource_type"] == "oidc_auth")
            && e.iter().any(|e| {
                e["operation"] == "login"
                    && e["resource_type"] == "oidc_auth"
                    && e["resource"] == "carol"
            })
    });

    // Key rotation: the provider comes back with a new signing key (and forgets its
    // sessions and refresh tokens). Wharf fetches the keys again on the unknown kid.
    std::thread::sleep(Duration::from_secs(11)); // past the bound on key refetches
    p.stop();
    p.run("b");
    assert_eq!(login(&w, &p, "alice", "Alice-Passw0rd"), rotated);
    assert!(
        w.log_text()
            .contains("fetched the OpenID provider's keys again"),
        "{}",
        w.log_text()
    );

    // bob's refresh token died with the provider's old instance: once his access
    // token's lifetime (5 s) and the credential cache (30 s) have passed, the
    // provider is asked again, refuses, and so does Wharf.
    std::thread::sleep(Duration::from_secs(31));
    let r = api(&w, "GET", "/users/current", ("bob", &bob)).send();
    assert_eq!(r.status, 401, "{}", text(&r));
    assert!(text(&r).contains("no longer valid"), "{}", text(&r));
    // alice's token is the new instance's: refreshed, still good.
    let r = api(&w, "GET", "/users/current", ("alice", rotated)).send();
    assert_eq!(r.status, 200, "{}", text(&r));

    // The provider stops in the middle of a login: the code cannot be exchanged, nobody
    // gets in; the local admin still does.
    let url = provider_login(&w, &p, "carol", "Carol-Passw0rd");
    p.stop();
    let r = callback(&url);
    assert_eq!(r.status, 401, "{}", text(&r));
    assert!(
        text(&r).contains("did not accept the authorization code"),
        "{}",
        text(&r)
    );
    assert_eq!(api(&w, "GET", "/users/current", ADMIN).send().status, 200);

    // Nothing secret in the server's log.
    let log = w.log_text();
    let mut secrets = vec![
        CLIENT_SECRET.to_string(),
        alice.clone(),
        rotated.to_string(),
        bob.clone(),
        carol.clone(),
        "Alice-Passw0rd".into(),
        code_of(&url),
    ];
    secrets.extend(codes);
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "the log holds {s}");
    }
}
