//! `wharf serve --storage azure://…`: the real binary with its blobs in Azure
//! Blob Storage as Azurite emulates it (registry/tests/support/azurite.rs): the
//! flow every bucket backend passes (`common/bucket.rs`: skopeo in and out, SAS
//! redirects), and S3's options refused.

#[path = "../registry/tests/support/azurite.rs"]
mod azurite;
mod common;

use std::path::Path;
use std::process::Command;

use common::Wharf;

fn start(dir: &Path, container: &str, extra: &[&str]) -> Wharf {
    let storage = format!("azure://{container}/registry");
    let mut args = vec!["--storage", storage.as_str()];
    args.extend_from_slice(extra);
    Wharf::start_env(dir, &args, &azure_env())
}

/// Azurite's account, key and endpoint, as the standard `AZURE_*` variables.
fn azure_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AZURE_STORAGE_ACCOUNT_NAME", azurite::ACCOUNT),
        ("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY),
        (
            "AZURE_STORAGE_ENDPOINT",
            azurite::server().endpoint.as_str(),
        ),
        ("AZURE_ALLOW_HTTP", "true"),
    ]
}

#[test]
fn serve_on_azure_push_pull_and_redirect() {
    let container = azurite::fresh_container();
    common::bucket::push_pull_and_redirect(&common::bucket::Backend {
        start: &|dir, extra| start(dir, &container, extra),
        keys: &|prefix| azurite::keys(&container, prefix),
        endpoint: &azurite::server().endpoint,
        signature: "sig=",
    });
}

#[test]
fn not_ready_without_the_container() {
    let container = azurite::unused_name();
    common::bucket::ready_only_once_the_bucket_exists(&|dir| start(dir, &container, &[]), &|| {
        azurite::create_container(&container)
    });
}

/// S3's options are refused with an azure:// URL, at start, naming the option.
#[test]
fn s3_options_with_azure_storage_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .args([
            "--auth=false",
            "--storage",
            "azure://blobs/p",
            "--s3-region",
            "eu-west-1",
        ])
        .env("AZURE_STORAGE_ACCOUNT_NAME", azurite::ACCOUNT)
        .env("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--s3-region applies to s3:// storage only"),
        "{err}"
    );
}
