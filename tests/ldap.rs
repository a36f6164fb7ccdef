//! LDAP login against a real OpenLDAP: a private `slapd` (its own configuration
//! and database under a temporary directory, a free port, killed at the end)
//! loaded with tests/fixtures/ldap/directory.ldif. Real clients (skopeo, curl)
//! log in with directory users; the expected names, e-mails and group members
//! are the LDIF's.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::identity::{ADMIN, ADMIN_PW, api, audit_until, oci_layout, skopeo_copy, text};
use common::{Wharf, curl, free_port, require, run};
use serde_json::{Value, json};

const BASE: &str = "dc=example,dc=org";
const SEARCH_DN: &str = "cn=wharf,ou=services,dc=example,dc=org";
const SEARCH_PW: &str = "Search-Secret-1";
const DEVELOPERS: &str = "cn=developers,ou=groups,dc=example,dc=org";
const READERS: &str = "cn=readers,ou=groups,dc=example,dc=org";
const ADMINS: &str = "cn=registry-admins,ou=groups,dc=example,dc=org";

/// A private slapd with ldap:// (StartTLS offered) and ldaps:// listeners, its
/// certificate signed by a CA made for the test.
struct Slapd {
    dir: tempfile::TempDir,
    port: u16,
    tls_port: u16,
    child: Option<Child>,
}

fn fixture(name: &str) -> PathBuf {
    common::repo_root().join("tests/fixtures/ldap").join(name)
}

fn openssl(dir: &Path, args: &[&str]) {
    run(Command::new("openssl").current_dir(dir).args(args));
}

impl Slapd {
    fn start() -> Slapd {
        require("slapd");
        require("ldapadd");
        require("openssl");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A CA, and the server's certificate for 127.0.0.1 signed by it.
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=Wharf Test LDAP CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        );
        std::fs::write(
            d.join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "san.ext",
                "-out",
                "server.pem",
            ],
        );
        std::fs::create_dir(d.join("db")).unwrap();
        let conf = std::fs::read_to_string(fixture("slapd.conf.in"))
            .unwrap()
            .replace("@DIR@", d.to_str().unwrap());
        std::fs::write(d.join("slapd.conf"), conf).unwrap();
        let mut s = Slapd {
            port: free_port(),
            tls_port: free_port(),
            dir,
            child: None,
        };
        s.run_slapd();
        run(Command::new("ldapadd")
            .args([
                "-x",
                "-H",
                &s.url(),
                "-D",
                &format!("cn=root,{BASE}"),
                "-w",
                "root-secret",
                "-f",
            ])
            .arg(fixture("directory.ldif")));
        s
    }

    fn run_slapd(&mut self) {
        let d = self.dir.path();
        let urls = format!(
            "ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{}/",
            self.port, self.tls_port
        );
        let child = Command::new("slapd")
            .args(["-d", "0", "-h", &urls, "-f"])
            .arg(d.join("slapd.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("slapd.log")).unwrap())
            .spawn()
            .expect("starting slapd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err()
            || std::net::TcpStream::connect(("127.0.0.1", self.tls_port)).is_err()
        {
            assert!(
                Instant::now() < deadline,
                "slapd did not start: {}",
                std::fs::read_to_string(d.join("slapd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    fn tls_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls_port)
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start_wharf(extra: &[&str]) -> Wharf {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--auth"];
    args.extend_from_slice(extra);
    Wharf::start_env(&dir.keep(), &args, &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)])
}

const ALICE: (&str, &str) = ("alice", "Alice-Pass-1");
const BOB: (&str, &str) = ("bob", "Bob-Pass-1");
const CAROL: (&str, &str) = ("carol", "Carol-Pass-1");
const DAVE: (&str, &str) = ("dave", "Dave-Pass-1");

fn ldap_settings(slapd: &Slapd) -> Value {
    json!({
        "auth_mode": "ldap_auth",
        "ldap_url": slapd.url(),
        "ldap_search_dn": SEARCH_DN,
        "ldap_search_password": SEARCH_PW,
        "ldap_base_dn": format!("ou=people,{BASE}"),
        "ldap_filter": "(objectClass=inetOrgPerson)",
        "ldap_uid": "uid",
        "ldap_scope": 2,
        "ldap_timeout": 3,
        "ldap_group_base_dn": format!("ou=groups,{BASE}"),
        "ldap_group_search_filter": "(objectClass=groupOfNames)",
        "ldap_group_attribute_name": "cn",
        "ldap_group_admin_dn": ADMINS,
        "ldap_group_membership_attribute": "memberof",
        "ldap_group_search_scope": 2
    })
}

#[test]
fn ldap_users_log_in_get_onboarded_and_act_through_their_groups() {
    require("skopeo");
    let mut slapd = Slapd::start();
    let w = start_wharf(&[]);

    // Configuration: system administrators only; the password is never shown.
    let r = api(&w, "GET", "/configurations", ADMIN).send();
    assert_eq!(r.status, 200, "{}", text(&r));
    let cfg = r.json();
    assert_eq!(
        cfg["auth_mode"],
        json!({"value": "db_auth", "editable": true})
    );
    let local = api(&w, "POST", "/users", ADMIN)
        .body(json!({"username": "local1", "password": "Passw0rd!"}).to_string())
        .send();
    assert_eq!(local.status, 201);
    assert_eq!(
        api(&w, "GET", "/configurations", ("local1", "Passw0rd!"))
            .send()
            .status,
        403
    );
    // A user other than admin exists: switching the mode is refused unless forced.
    let r = api(&w, "PUT", "/configurations", ADMIN)
        .body(ldap_settings(&slapd).to_string())
        .send();
    assert_eq!(r.status, 400, "{}", text(&r));
    assert!(
        text(&r).contains("auth mode can not be modified"),
        "{}",
        text(&r)
    );
    assert_eq!(
        api(&w, "GET", "/configurations", ADMIN).send().json()["auth_mode"]["value"],
        "db_auth",
        "a refused PUT changes nothing"
    );
    let r = api(&w, "PUT", "/configurations?force=true", ADMIN)
        .body(ldap_settings(&slapd).to_string())
        .send();
    assert_eq!(r.status, 200, "{}", text(&r));
    let cfg = api(&w, "GET", "/configurations", ADMIN).send().json();
    assert_eq!(cfg["auth_mode"]["value"], "ldap_auth");
    assert_eq!(cfg["ldap_search_dn"]["value"], SEARCH_DN);
    assert_eq!(cfg["ldap_scope"]["value"], 2);
    assert!(cfg.get("ldap_search_password").is_none(), "{cfg:#}");
    assert!(!cfg.to_string().contains(SEARCH_PW));
    let bad = api(&w, "PUT", "/configurations", ADMIN)
        .body(json!({"ldap_scope": 7}).to_string())
        .send();
    assert_eq!(bad.status, 400);
    assert_eq!(
        api(&w, "GET", "/systeminfo", ADMIN).send().json()["auth_mode"],
        "ldap_auth"
    );
    // Users come from the directory now: no local ones through the API.
    let r = api(&w, "POST", "/users", ADMIN)
        .body(json!({"username": "local2", "password": "Passw0rd!"}).to_string())
        .send();
    assert_eq!(r.status, 403, "{}", text(&r));
    assert!(text(&r).contains("db_auth"), "{}", text(&r));

    // Ping: the stored settings, and a wrong password given in the body.
    let ok = api(&w, "POST", "/ldap/ping", ADMIN)
        .body("{}")
        .send()
        .json();
    assert_eq!(ok["success"], true, "{ok}");
    let wrong = api(&w, "POST", "/ldap/ping", ADMIN)
        .body(json!({"ldap_search_password": "nope"}).to_string())
        .send()
        .json();
    assert_eq!(wrong["success"], false, "{wrong}");
    assert!(!wrong.to_string().contains("nope"));

    // Searching the directory.
    let users = api(&w, "GET", "/ldap/users/search?username=ali", ADMIN)
        .send()
        .json();
    assert_eq!(
        users,
        json!([{"username": "alice", "realname": "Alice Liddell", "email": "alice@example.org"}])
    );
    let groups = api(&w, "GET", "/ldap/groups/search?groupname=read", ADMIN)
        .send()
        .json();
    assert_eq!(
        groups,
        json!([{"group_name": "readers", "group_type": 1, "ldap_group_dn": READERS}])
    );

    // User groups: an LDAP DN is checked in the directory, its name taken from it.
    let r = api(&w, "POST", "/usergroups", ADMIN)
        .body(json!({"group_type": 1, "ldap_group_dn": DEVELOPERS}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", text(&r));
    let dev_group: i64 = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        api(&w, "GET", &format!("/usergroups/{dev_group}"), ADMIN)
            .send()
            .json(),
        json!({"id": dev_group, "group_name": "developers", "group_type": 1, "ldap_group_dn": DEVELOPERS})
    );
    let r = api(&w, "POST", "/usergroups", ADMIN)
        .body(
            json!({"group_type": 1, "ldap_group_dn": format!("cn=ghosts,ou=groups,{BASE}")})
                .to_string(),
        )
        .send();
    assert_eq!(r.status, 400, "{}", text(&r));
    assert_eq!(
        api(&w, "GET", "/usergroups", ADMIN)
            .send()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A private project: developers push and pull, readers pull.
    let r = api(&w, "POST", "/projects", ADMIN)
        .body(json!({"project_name": "team", "metadata": {"public": "false"}}).to_string())
        .send();
    assert_eq!(r.status, 201);
    let r = api(&w, "POST", "/projects/team/members", ADMIN)
        .body(json!({"role_id": 2, "member_group": {"id": dev_group}}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", text(&r));
    // A group named only by its DN is created on the way, as Harbor does.
    let r = api(&w, "POST", "/projects/team/members", ADMIN)
        .body(json!({"role_id": 3, "member_group": {"ldap_group_dn": READERS, "group_name": "readers"}}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", text(&r));
    let members = api(&w, "GET", "/projects/team/members", ADMIN)
        .send()
        .json();
    let kinds: Vec<(String, String, i64)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["entity_type"].as_str().unwrap().to_string(),
                m["entity_name"].as_str().unwrap().to_string(),
                m["role_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("g".into(), "developers".into(), 2)),
        "{members:#}"
    );
    assert!(
        kinds.contains(&("g".into(), "readers".into(), 3)),
        "{members:#}"
    );

    // skopeo: alice (developers) logs in, pushes, pulls.
    let home = tempfile::tempdir().unwrap();
    let authfile = home.path().join("auth.json");
    run(Command::new("skopeo")
        .args([
            "login",
            "--tls-verify=false",
            "-u",
            ALICE.0,
            "-p",
            ALICE.1,
            "--authfile",
        ])
        .arg(&authfile)
        .arg(w.host()));
    let src = tempfile::tempdir().unwrap();
    let image = oci_layout(src.path());
    let pushed = skopeo_copy(&image, &format!("docker://{}/team/app:v1", w.host()), ALICE);
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let out = tempfile::tempdir().unwrap();
    let pulled = skopeo_copy(
        &format!("docker://{}/team/app:v1", w.host()),
        &format!("oci:{}:v1", out.path().display()),
        ALICE,
    );
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );

    // First login onboarded alice with the directory's e-mail and name.
    let users = api(&w, "GET", "/users?page_size=100", ADMIN).send().json();
    let alice = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "alice")
        .unwrap_or_else(|| panic!("alice not onboarded: {users:#}"));
    assert_eq!(alice["email"], "alice@example.org");
    assert_eq!(alice["realname"], "Alice Liddell");
    assert_eq!(alice["sysadmin_flag"], false);

    // dave (readers, guest) pulls but cannot push; bob (no group) can do neither.
    let pulled = skopeo_copy(
        &format!("docker://{}/team/app:v1", w.host()),
        &format!("oci:{}:dave", out.path().display()),
        DAVE,
    );
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let pushed = skopeo_copy(
        &image,
        &format!("docker://{}/team/app:dave", w.host()),
        DAVE,
    );
    assert!(!pushed.status.success());
    for (what, r) in [
        (
            "push",
            skopeo_copy(&image, &format!("docker://{}/team/app:bob", w.host()), BOB),
        ),
        (
            "pull",
            skopeo_copy(
                &format!("docker://{}/team/app:v1", w.host()),
                &format!("oci:{}:bob", out.path().display()),
                BOB,
            ),
        ),
    ] {
        assert!(!r.status.success(), "bob could {what}");
    }
    // A user's role is the highest of their own and their groups': alice made a
    // limited guest herself still pushes as a developer of her group; dave made a
    // maintainer himself now pushes although his group only reads.
    for (user, role) in [("alice", 5), ("dave", 4)] {
        let r = api(&w, "POST", "/projects/team/members", ADMIN)
            .body(json!({"role_id": role, "member_user": {"username": user}}).to_string())
            .send();
        assert_eq!(r.status, 201, "{}", text(&r));
    }
    let pushed = skopeo_copy(&image, &format!("docker://{}/team/app:v2", w.host()), ALICE);
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let pushed = skopeo_copy(
        &image,
        &format!("docker://{}/team/app:dave", w.host()),
        DAVE,
    );
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    // bob logs in all the same: he is a directory user, just not in the project.
    assert_eq!(api(&w, "GET", "/users/current", BOB).send().status, 200);

    // The admin group's members are system administrators; others are not.
    assert_eq!(api(&w, "GET", "/users", CAROL).send().status, 200);
    let carol = api(&w, "GET", "/users/current", CAROL).send().json();
    assert_eq!(
        (&carol["sysadmin_flag"], &carol["admin_role_in_auth"]),
        (&json!(false), &json!(true)),
        "{carol}"
    );
    assert_eq!(api(&w, "GET", "/users", ALICE).send().status, 403);
    // Group search is for member forms: any signed-in account, id/name/type only.
    assert_eq!(api(&w, "GET", "/usergroups", ALICE).send().status, 403);
    let found = api(&w, "GET", "/usergroups/search?groupname=velop", ALICE).send();
    assert_eq!(found.status, 200, "{}", text(&found));
    assert_eq!(
        found.json(),
        json!([{"id": dev_group, "group_name": "developers", "group_type": 1}])
    );

    // Wrong passwords, an empty one, and filter injection get nobody in.
    for (user, pw) in [
        ("alice", "wrong"),
        ("alice", ""),
        ("*)(uid=*", ALICE.1),
        ("*", ALICE.1),
        ("alice)(|(uid=*", ALICE.1),
        // Unescaped, these would find alice alone and log her password in under another name.
        ("al*", ALICE.1),
        ("alice)(uid=alice", ALICE.1),
        ("nobody", "whatever"),
    ] {
        let r = api(&w, "GET", "/users/current", (user, pw)).send();
        assert_eq!(r.status, 401, "{user:?}/{pw:?}: {}", text(&r));
        let t = curl(
            "GET",
            &w.url("/service/token?service=wharf&scope=repository:team/app:pull"),
        )
        .arg("-u")
        .arg(&format!("{user}:{pw}"))
        .send();
        assert_eq!(t.status, 401, "token for {user:?}");
    }
    let users = api(&w, "GET", "/users?page_size=100", ADMIN).send().json();
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .all(|u| !["*", "nobody", "al*", "alice)(uid=alice"]
                .contains(&u["username"].as_str().unwrap())),
        "{users:#}"
    );

    // Every login is audited with its mode; so are the mode change and the groups.
    let logs = audit_until(&w, |l| {
        l.iter()
            .any(|e| e["operation"] == "login_failed" && e["resource"] == "*)(uid=*")
    });
    let has = |op: &str, rt: &str, res: &str| {
        logs.iter()
            .any(|e| e["operation"] == op && e["resource_type"] == rt && e["resource"] == res)
    };
    assert!(has("login", "ldap_auth", "alice"), "{logs:#?}");
    assert!(has("login_failed", "ldap_auth", "alice"), "{logs:#?}");
    assert!(has("login", "db_auth", "admin"), "{logs:#?}");
    assert!(
        has("update", "auth_mode", "db_auth -> ldap_auth"),
        "{logs:#?}"
    );
    assert!(has("create", "user_group", "developers"), "{logs:#?}");
    assert!(logs.iter().all(|e| e["client_ip"] == "127.0.0.1"));

    // Import: dave exists already, erin does not exist in the directory.
    let r = api(&w, "POST", "/ldap/users/import", ADMIN)
        .body(json!({"ldap_uid_list": ["dave", "erin"]}).to_string())
        .send();
    assert_eq!(r.status, 404, "{}", text(&r));
    let failed: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["uid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed, ["dave", "erin"]);

    // The directory goes away: logins that need it fail with a clear error,
    // nobody gets in, and the local admin still works.
    slapd.stop();
    let r = api(&w, "GET", "/users/current", ("dave", "Not-Dave-1")).send();
    assert_eq!(r.status, 401);
    assert!(
        text(&r).contains("LDAP directory could not be reached"),
        "{}",
        text(&r)
    );
    let t = curl(
        "GET",
        &w.url("/service/token?service=wharf&scope=repository:team/app:pull"),
    )
    .arg("-u")
    .arg("bob:Other-Pass-2")
    .send();
    assert_eq!(t.status, 401);
    assert_eq!(api(&w, "GET", "/users/current", ADMIN).send().status, 200);
    let ping = api(&w, "POST", "/ldap/ping", ADMIN)
        .body("{}")
        .send()
        .json();
    assert_eq!(ping["success"], false);
    let log = w.log_text();
    assert!(log.contains("LDAP login could not be checked"), "{log}");
    for secret in [SEARCH_PW, ALICE.1, "Not-Dave-1"] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

#[test]
fn ldaps_and_starttls_with_a_ca_file_set_by_flags() {
    let slapd = Slapd::start();
    let base = format!("ou=people,{BASE}");
    let ca = slapd.ca();
    let tls_url = slapd.tls_url();
    let w = start_wharf(&[
        "--auth-mode",
        "ldap_auth",
        "--ldap-url",
        &tls_url,
        "--ldap-search-dn",
        SEARCH_DN,
        "--ldap-search-password",
        SEARCH_PW,
        "--ldap-base-dn",
        &base,
        "--ldap-uid",
        "uid",
        "--ldap-ca-file",
        ca.to_str().unwrap(),
    ]);
    let r = api(&w, "GET", "/users/current", ALICE).send();
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.json()["username"], "alice");
    // Set by the server's flags: shown as not editable, and not changed through the API.
    let cfg = api(&w, "GET", "/configurations", ADMIN).send().json();
    assert_eq!(
        cfg["ldap_url"],
        json!({"value": tls_url, "editable": false})
    );
    assert_eq!(cfg["ldap_filter"]["editable"], true);
    let r = api(&w, "PUT", "/configurations", ADMIN)
        .body(json!({"ldap_url": slapd.url()}).to_string())
        .send();
    assert_eq!(r.status, 400);
    // StartTLS on the plain port, verified against the same CA.
    let r = api(&w, "POST", "/ldap/ping", ADMIN)
        .body(json!({"ldap_url": slapd.url(), "ldap_starttls": true}).to_string())
        .send()
        .json();
    assert_eq!(r["success"], true, "{r}");
    drop(w);

    // Without the CA file, the test CA is not trusted: no login over ldaps.
    let w = start_wharf(&[
        "--auth-mode",
        "ldap_auth",
        "--ldap-url",
        &tls_url,
        "--ldap-search-dn",
        SEARCH_DN,
        "--ldap-search-password",
        SEARCH_PW,
        "--ldap-base-dn",
        &base,
        "--ldap-uid",
        "uid",
    ]);
    let r = api(&w, "GET", "/users/current", ALICE).send();
    assert_eq!(r.status, 401, "{}", text(&r));
    let ping = api(&w, "POST", "/ldap/ping", ADMIN)
        .body("{}")
        .send()
        .json();
    assert_eq!(ping["success"], false, "{ping}");
    // ... unless certificate verification is switched off.
    let ping = api(&w, "POST", "/ldap/ping", ADMIN)
        .body(json!({"ldap_verify_cert": false}).to_string())
        .send()
        .json();
    assert_eq!(ping["success"], true, "{ping}");
}

/// The actions a token grants on `team/app` (its JWT payload, decoded).
fn granted(w: &Wharf, user: (&str, &str)) -> Vec<String> {
    use base64::Engine;
    let r = curl(
        "GET",
        &w.url("/service/token?service=wharf&scope=repository:matrix/app:pull,push,delete"),
    )
    .arg("-u")
    .arg(&format!("{}:{}", user.0, user.1))
    .send();
    assert_eq!(r.status, 200, "{}", text(&r));
    let token = r.json()["token"].as_str().unwrap().to_string();
    let payload = token.split('.').nth(1).unwrap();
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
        .flat_map(|a| a["actions"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// Through a group alone, each of Harbor's five roles gives what the role table
/// says (the same rows as tests/access.rs's matrix for direct members).
#[test]
fn group_members_get_exactly_their_groups_role() {
    let slapd = Slapd::start();
    let w = start_wharf(&[]);
    let r = api(&w, "PUT", "/configurations", ADMIN)
        .body(ldap_settings(&slapd).to_string())
        .send();
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = api(&w, "POST", "/projects", ADMIN)
        .body(json!({"project_name": "matrix", "metadata": {"public": "false"}}).to_string())
        .send();
    assert_eq!(r.status, 201);
    let r = api(&w, "POST", "/projects/matrix/members", ADMIN)
        .body(json!({"role_id": 5, "member_group": {"ldap_group_dn": READERS}}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", text(&r));
    let mid = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    // Dave is in readers only; outsiders (bob) get nothing whatever the group's role.
    // (role_id, pull, push, delete, list members, add members)
    // A custom role held through the group behaves as its actions say.
    let r = api(&w, "POST", "/roles", ADMIN)
        .body(json!({"name": "pushers", "actions": ["pull", "push", "read-members"]}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", text(&r));
    let custom: i64 = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let rows = [
        (5, [true, false, false, false, false]),
        (3, [true, false, false, true, false]),
        (2, [true, true, false, true, false]),
        (4, [true, true, true, true, false]),
        (custom, [true, true, false, true, false]),
        (1, [true, true, true, true, true]),
    ];
    for (role, want) in rows {
        let r = api(&w, "PUT", &format!("/projects/matrix/members/{mid}"), ADMIN)
            .body(json!({"role_id": role}).to_string())
            .send();
        assert_eq!(r.status, 200);
        let g = granted(&w, DAVE);
        let has = |a: &str| g.iter().any(|x| x == a);
        assert_eq!(
            [has("pull"), has("push"), has("delete")],
            [want[0], want[1], want[2]],
            "role {role}: {g:?}"
        );
        assert!(granted(&w, BOB).is_empty(), "bob, role {role}");
        let list = api(&w, "GET", "/projects/matrix/members", DAVE).send();
        assert_eq!(
            list.status == 200,
            want[3],
            "role {role} list members ({})",
            list.status
        );
        let add = api(&w, "POST", "/projects/matrix/members", DAVE)
            .body(json!({"role_id": 3, "member_user": {"username": "bob"}}).to_string())
            .send();
        assert_eq!(
            add.status == 201,
            want[4],
            "role {role} add member ({})",
            add.status
        );
    }
    // Removing the group from the project takes the rights away.
    let r = api(
        &w,
        "DELETE",
        &format!("/projects/matrix/members/{mid}"),
        ADMIN,
    )
    .send();
    assert_eq!(r.status, 200);
    assert!(granted(&w, DAVE).is_empty());
}
