//! Credentials found the way Docker finds them: `$DOCKER_CONFIG/config.json` with
//! `credHelpers` and `credsStore`, running a real `docker-credential-<name>` program found
//! on `PATH` (a shell script speaking the docker-credential-helpers protocol), against the
//! reference registry with basic auth.
//!
//! One test in its own binary: it changes the process environment.

#[path = "../../scanner/tests/common/mod.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;

use wharf_oci::media_types::IMAGE_CONFIG;
use wharf_oci::{
    BlockingClient, Credentials, Error, RegistryOptions, credentials, parse_reference,
};

/// `get` with the server URL on stdin: alice's password for the registry under test, an
/// identity token for `token.example`, a failure for `broken.example`, "not found" else.
/// Every server it is asked about is appended to `asked` beside it.
const HELPER: &str = r#"#!/bin/sh
[ "$1" = get ] || { echo "unsupported action $1" >&2; exit 1; }
server=$(cat)
echo "$server" >> "$(dirname "$0")/asked"
case "$server" in
  "$WANT_SERVER") printf '{"ServerURL":"%s","Username":"alice","Secret":"wonder"}\n' "$server" ;;
  token.example) printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-me"}\n' "$server" ;;
  broken.example) echo "keychain locked" >&2; exit 3 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
"#;

#[test]
fn credential_helpers_and_stores() {
    let reg = common::RefRegistry::start(Some("alice:wonder"));
    let host = reg.host();
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-test");
    std::fs::write(&helper, HELPER.replace("$WANT_SERVER", &host)).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // SAFETY: this binary has one test, so no other thread reads the environment.
    unsafe {
        std::env::set_var("PATH", path);
        std::env::set_var("DOCKER_CONFIG", config.path());
    }
    let write_config = |json: String| {
        std::fs::write(config.path().join("config.json"), json).unwrap();
    };
    let r = parse_reference(&format!("{host}/private/app:v1")).unwrap();
    let opts = RegistryOptions {
        insecure: true,
        ..Default::default()
    };

    // credHelpers names the helper for this registry only.
    write_config(format!(r#"{{"credHelpers":{{"{host}":"test"}}}}"#));
    let c = BlockingClient::new(&opts)
        .unwrap()
        .with_docker_config_for(&host)
        .unwrap();
    let d = c.put_blob(&r, b"{}", IMAGE_CONFIG).unwrap();
    assert_eq!(c.get_blob_limited(&r, &d.digest, 16).unwrap(), b"{}");
    let asked = std::fs::read_to_string(bin.path().join("asked")).unwrap();
    assert_eq!(asked.lines().collect::<Vec<_>>(), [host.as_str()]);
    assert_eq!(
        credentials::from_docker_config("other.example").unwrap(),
        None
    );

    // credsStore is asked for every registry; "not found" falls through to `auths`.
    write_config(
        r#"{"credsStore":"test","auths":{"local.example":{"username":"bob","password":"pw"}}}"#
            .to_string(),
    );
    assert_eq!(
        credentials::from_docker_config(&host).unwrap(),
        Some(Credentials::basic("alice", "wonder"))
    );
    assert_eq!(
        credentials::from_docker_config("local.example").unwrap(),
        Some(Credentials::basic("bob", "pw"))
    );
    assert_eq!(
        credentials::from_docker_config("token.example").unwrap(),
        Some(Credentials::IdentityToken("refresh-me".into()))
    );
    match credentials::from_docker_config("broken.example") {
        Err(Error::CredentialHelper { reason, .. }) => {
            assert!(reason.contains("keychain locked"), "{reason}")
        }
        other => panic!("expected a helper failure, got {other:?}"),
    }
    let c = BlockingClient::new(&opts)
        .unwrap()
        .with_docker_config_for(&host)
        .unwrap();
    assert_eq!(c.get_blob_limited(&r, &d.digest, 16).unwrap(), b"{}");

    // A helper that is not installed is a precise error, not anonymous access.
    write_config(r#"{"credsStore":"absent-helper"}"#.into());
    assert!(matches!(
        credentials::from_docker_config(&host),
        Err(Error::CredentialHelper { .. })
    ));
}
