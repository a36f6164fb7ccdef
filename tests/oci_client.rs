//! wharf-oci's client against `wharf serve --auth`: Docker token auth (a 401 with a
//! Bearer challenge, a token from /service/token for the repository's scope, then the
//! request with the token) with credentials given directly and from a credential helper.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Wharf, curl};
use serde_json::json;
use wharf_oci::media_types::{IMAGE_CONFIG, OCI_MANIFEST};
use wharf_oci::{BlockingClient, Manifest, RegistryOptions, credentials, parse_reference};

const ADMIN_PW: &str = "Harbor12345";

fn start() -> Wharf {
    let dir = tempfile::tempdir().unwrap();
    let w = Wharf::start_env(
        &dir.keep(),
        &["--auth"],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    );
    let r = curl("POST", &w.url("/api/v2.0/projects"))
        .header("Content-Type", "application/json")
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"))
        .body(json!({"project_name": "team", "metadata": {"public": "false"}}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    w
}

fn insecure() -> RegistryOptions {
    RegistryOptions {
        insecure: true,
        ..Default::default()
    }
}

#[test]
fn token_auth_with_given_credentials() {
    let w = start();
    // The server asks for a bearer token, not basic credentials.
    let challenge = curl("GET", &w.url("/v2/")).send();
    assert_eq!(challenge.status, 401);
    assert!(
        challenge
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer realm=")),
        "{:?}",
        challenge.header("www-authenticate")
    );
    let r = parse_reference(&format!("{}/team/app:v1", w.host())).unwrap();
    let anonymous = BlockingClient::new(&insecure()).unwrap();
    assert!(anonymous.put_blob(&r, b"{}", IMAGE_CONFIG).is_err());

    let c = BlockingClient::new(&RegistryOptions {
        username: Some("admin".into()),
        password: Some(ADMIN_PW.into()),
        ..insecure()
    })
    .unwrap();
    let config = c.put_blob(&r, b"{}", IMAGE_CONFIG).unwrap();
    let body = Manifest::new(config, vec![]).to_bytes();
    let digest = c.put_manifest(&r, body.clone(), OCI_MANIFEST).unwrap();
    let (got, desc) = c.get_manifest(&r).unwrap();
    assert_eq!((got, desc.digest.clone()), (body.clone(), digest.clone()));
    // What the server stored, asked with curl and basic auth: the same bytes.
    let direct = curl("GET", &w.url("/v2/team/app/manifests/v1"))
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"))
        .header("Accept", OCI_MANIFEST)
        .send();
    assert_eq!(direct.status, 200);
    assert_eq!(direct.body, body);
    assert_eq!(
        direct.header("docker-content-digest"),
        Some(digest.as_str())
    );
    // Wrong password: refused, not "not found".
    let bad = BlockingClient::new(&RegistryOptions {
        username: Some("admin".into()),
        password: Some("wrong".into()),
        ..insecure()
    })
    .unwrap();
    let err = bad.get_manifest(&r).unwrap_err();
    assert!(!err.is_not_found(), "{err}");
}

#[test]
fn token_auth_with_a_credential_helper() {
    let w = start();
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-wharftest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\n[ \"$(cat)\" = \"{}\" ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\nprintf '{{\"ServerURL\":\"x\",\"Username\":\"admin\",\"Secret\":\"{ADMIN_PW}\"}}'\n",
            w.host()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The helper is run by path here (no PATH change: other tests in this binary run
    // concurrently); the PATH lookup is covered by wharf-oci's own tests.
    let creds = credentials::run_helper_at(&helper, &w.host())
        .unwrap()
        .expect("the helper knows this registry");
    let r = parse_reference(&format!("{}/team/helped:v1", w.host())).unwrap();
    let c = BlockingClient::new(&insecure())
        .unwrap()
        .with_credentials(&creds);
    let config = c.put_blob(&r, b"{}", IMAGE_CONFIG).unwrap();
    let body = Manifest::new(config, vec![]).to_bytes();
    c.put_manifest(&r, body.clone(), OCI_MANIFEST).unwrap();
    assert_eq!(c.get_manifest(&r).unwrap().0, body);
}

/// Cross-repository mounts through the client, with one token naming both
/// repositories: an account that may read the source gets the blob linked (201,
/// `Mounted`); one that may not gets the upload session the registry opened instead
/// (202, `Declined`), and the blob sent into it closes that session, so nothing is
/// left open (the uploads gauge is back at 0).
#[test]
fn mounts_ask_for_both_repositories_and_a_declined_one_carries_the_upload() {
    use wharf_oci::{Client, Mount};
    let w = start();
    let admin = |method: &str, path: &str, body: serde_json::Value| {
        let r = curl(method, &w.url(path))
            .header("Content-Type", "application/json")
            .arg("-u")
            .arg(&format!("admin:{ADMIN_PW}"))
            .body(body.to_string())
            .send();
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    };
    admin(
        "POST",
        "/api/v2.0/projects",
        json!({"project_name": "secret", "metadata": {"public": "false"}}),
    );
    for user in ["reader", "outsider"] {
        admin(
            "POST",
            "/api/v2.0/users",
            json!({"username": user, "password": "Passw0rd!", "email": format!("{user}@example.com")}),
        );
        admin(
            "POST",
            "/api/v2.0/projects/team/members",
            json!({"role_id": 2, "member_user": {"username": user}}),
        );
    }
    admin(
        "POST",
        "/api/v2.0/projects/secret/members",
        json!({"role_id": 3, "member_user": {"username": "reader"}}),
    );
    let data = b"a layer the secret project holds".to_vec();
    let digest = common::sha256(&data);
    let r = curl(
        "POST",
        &w.url(&format!("/v2/secret/app/blobs/uploads/?digest={digest}")),
    )
    .arg("-u")
    .arg(&format!("admin:{ADMIN_PW}"))
    .header("Content-Type", "application/octet-stream")
    .body(data.clone())
    .send();
    assert_eq!(r.status, 201);

    let client = |user: &str| {
        Client::new(RegistryOptions {
            username: Some(user.into()),
            password: Some("Passw0rd!".into()),
            ..insecure()
        })
    };
    let reference = |r: &str| parse_reference(&format!("{}/{r}:latest", w.host())).unwrap();
    let from = reference("secret/app");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // A guest of the secret project may read it: the blob is linked.
        let reader = client("reader");
        let into = reference("team/linked");
        let m = reader.mount_blob(&into, &from, &digest).await.unwrap();
        assert_eq!(m, Mount::Mounted);
        assert!(reader.has_blob(&into, &digest).await.unwrap());

        // A developer of team only: declined, and the session takes the upload.
        let outsider = client("outsider");
        let into = reference("team/sent");
        let Mount::Declined(mut session) =
            outsider.mount_blob(&into, &from, &digest).await.unwrap()
        else {
            panic!("a mount from a project the caller cannot read was not declined");
        };
        assert!(!outsider.has_blob(&into, &digest).await.unwrap());
        let body = bytes::Bytes::from(data.clone());
        let stream: wharf_oci::BlobStream =
            Box::pin(futures_util::stream::once(async move { Ok(body) }));
        outsider
            .upload_from(
                &into,
                &mut session,
                stream,
                data.len() as u64,
                &digest,
                &|_| {},
            )
            .await
            .unwrap();
        assert!(outsider.has_blob(&into, &digest).await.unwrap());
    });
    let metrics = curl("GET", &w.url("/metrics")).send();
    let open = String::from_utf8_lossy(&metrics.body)
        .lines()
        .find_map(|l| l.strip_prefix("wharf_uploads_in_flight "))
        .map(|v| v.trim().to_string());
    assert_eq!(open.as_deref(), Some("0"));
}
