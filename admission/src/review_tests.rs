//! The decision logic on the real fixtures, without a registry: images pinned
//! by digest need no lookup, and registry failures come from real sockets (a
//! closed port, a listener that never answers). Tag resolution against a real
//! registry is tested end to end in the workspace's `tests/admission.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;

use super::exclude::Exclusions;
use super::gate::{GateError, GateVerdict, ImageGate, ImageRef};
use super::registries::AllowedRegistries;
use super::resolve::{Resolver, ResolverOptions};
use super::review::{BadReview, FailurePolicy, Mode, Webhook, WebhookConfig};

const APP: &str = "wharf.test:5000/team/app:1.0";
const DIGEST: &str = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../tests/fixtures/admission/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fixture with its app image pinned, so no registry is needed for it.
fn pinned_fixture(name: &str) -> String {
    fixture(name).replace(APP, &format!("wharf.test:5000/team/app@{DIGEST}"))
}

fn webhook(
    config: WebhookConfig,
    resolver: ResolverOptions,
    gate: Option<Arc<dyn ImageGate>>,
) -> Webhook {
    Webhook::new(config, Resolver::new(resolver), gate)
}

fn allow_wharf_test() -> Option<Arc<dyn ImageGate>> {
    Some(Arc::new(AllowedRegistries::new(["wharf.test:5000"])))
}

async fn respond(w: &Webhook, body: &str, mutate: bool) -> Value {
    serde_json::from_slice(
        &w.handle(body.as_bytes(), mutate)
            .await
            .expect("a valid review"),
    )
    .unwrap()
}

#[tokio::test]
async fn init_container_violation_denies_although_the_main_container_passes() {
    let w = webhook(
        WebhookConfig::default(),
        ResolverOptions::default(),
        allow_wharf_test(),
    );
    let out = respond(&w, &pinned_fixture("pod-bad-init.json"), false).await;
    assert_eq!(out["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(out["kind"], "AdmissionReview");
    let r = &out["response"];
    assert_eq!(r["uid"], "0d4f1a2b-7c3e-4b5a-8e6f-9a1b2c3d4e5f");
    assert_eq!(r["allowed"], false);
    assert_eq!(r["status"]["code"], 403);
    assert_eq!(
        r["status"]["message"],
        "init container \"setup\" image \"docker.io/library/busybox:1.36\": registry docker.io is not allowed (allowed: wharf.test:5000)"
    );
    assert!(r.get("patch").is_none());

    // The same pod with a passing init container is allowed.
    let out = respond(&w, &pinned_fixture("pod.json"), false).await;
    assert_eq!(out["response"]["allowed"], true, "{out}");
}

#[tokio::test]
async fn audit_mode_allows_with_the_reasons_as_warnings() {
    let config = WebhookConfig {
        mode: Mode::Audit,
        ..Default::default()
    };
    let w = webhook(config, ResolverOptions::default(), allow_wharf_test());
    let r = &respond(&w, &pinned_fixture("pod-bad-init.json"), false).await["response"];
    assert_eq!(r["allowed"], true);
    assert_eq!(
        r["warnings"],
        serde_json::json!([
            "audit: would deny: init container \"setup\" image \"docker.io/library/busybox:1.36\": registry docker.io is not allowed (allowed: wharf.test:5000)"
        ])
    );
}

#[tokio::test]
async fn deletes_other_kinds_and_excluded_namespaces_are_allowed_unchecked() {
    let config = WebhookConfig {
        exclusions: Exclusions::new(["shop".to_string()], []),
        ..Default::default()
    };
    // Nothing here may be looked up: every registry is refused by the gate.
    let nothing: Option<Arc<dyn ImageGate>> =
        Some(Arc::new(AllowedRegistries::new(Vec::<String>::new())));
    let w = webhook(config, ResolverOptions::default(), nothing.clone());
    for f in [
        "delete-deployment.json",
        "configmap.json",
        "deployment.json",
        "pod-bad-init.json",
    ] {
        let r = &respond(&w, &fixture(f), false).await["response"];
        assert_eq!(r["allowed"], true, "{f}: {r}");
        assert!(r.get("warnings").is_none(), "{f}: {r}");
    }
    // Outside the excluded namespace the same gate denies.
    let w = webhook(
        WebhookConfig::default(),
        ResolverOptions::default(),
        nothing,
    );
    assert_eq!(
        respond(&w, &fixture("daemonset.json"), false).await["response"]["allowed"],
        false
    );
}

#[tokio::test]
async fn excluded_images_are_not_checked() {
    let config = WebhookConfig {
        exclusions: Exclusions::new([], ["docker.io/library/busybox:*".to_string()]),
        ..Default::default()
    };
    let w = webhook(config, ResolverOptions::default(), allow_wharf_test());
    let r = &respond(&w, &pinned_fixture("pod-bad-init.json"), false).await["response"];
    assert_eq!(r["allowed"], true, "{r}");
}

#[tokio::test]
async fn malformed_bodies_are_errors_not_panics() {
    let w = webhook(WebhookConfig::default(), ResolverOptions::default(), None);
    for (body, want) in [
        ("not json", "the body is not a valid AdmissionReview"),
        ("{}", "the body is not a valid AdmissionReview"),
        (
            r#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":null}"#,
            "unsupported",
        ),
        (
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
            "no request",
        ),
    ] {
        let e = w.handle(body.as_bytes(), false).await.unwrap_err();
        assert!(e.to_string().contains(want), "{body}: {e}");
    }
    let truncated = &fixture("pod.json")[..500];
    assert!(matches!(
        w.handle(truncated.as_bytes(), false).await,
        Err(BadReview::Malformed(_))
    ));
}

#[tokio::test]
async fn unreachable_registry_follows_the_failure_policy() {
    // A port nothing listens on: connection refused, at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let body = fixture("deployment.json").replace("wharf.test:5000", &host);
    let resolver = || ResolverOptions {
        insecure_registries: vec![host.clone()],
        ..Default::default()
    };

    let w = webhook(WebhookConfig::default(), resolver(), None);
    let r = &respond(&w, &body, true).await["response"];
    assert_eq!(r["allowed"], false);
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!(
            "container \"app\" image \"{host}/team/app:1.0\": resolving {host}/team/app:1.0:"
        )),
        "{msg}"
    );
    assert!(
        msg.ends_with("(could not be checked; failure policy: fail)"),
        "{msg}"
    );

    let config = WebhookConfig {
        failure_policy: FailurePolicy::Ignore,
        ..Default::default()
    };
    let w = webhook(config, resolver(), None);
    let r = &respond(&w, &body, true).await["response"];
    assert_eq!(r["allowed"], true);
    assert!(
        r.get("patch").is_none(),
        "nothing resolved, nothing to pin: {r}"
    );
    let warning = r["warnings"][0].as_str().unwrap();
    assert!(
        warning.ends_with("(not checked; allowed by failure policy: ignore)"),
        "{warning}"
    );
}

#[tokio::test]
async fn a_registry_that_never_answers_is_cut_off_at_the_budget() {
    // Accepts connections and never says anything.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = silent.local_addr().unwrap().to_string();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let config = WebhookConfig {
        timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let w = webhook(
        config,
        ResolverOptions {
            insecure_registries: vec![host.clone()],
            ..Default::default()
        },
        None,
    );
    let started = Instant::now();
    let r = &respond(
        &w,
        &fixture("cronjob.json").replace("wharf.test:5000", &host),
        false,
    )
    .await["response"];
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(r["allowed"], false);
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains(
            "no answer within the 300 ms budget (could not be checked; failure policy: fail)"
        ),
        "{msg}"
    );
    hold.abort();
}

/// A gate that fails for one repository and warns for every image.
struct Flaky;

#[async_trait]
impl ImageGate for Flaky {
    async fn check(&self, image: &ImageRef) -> Result<GateVerdict, GateError> {
        assert!(image.digest.is_some(), "gates see pinned references");
        if image.repository == "team/metrics" {
            return Err(GateError("signature store unreachable".into()));
        }
        Ok(GateVerdict {
            allowed: true,
            reasons: vec![],
            warnings: vec!["no SBOM attached".into()],
        })
    }
}

#[tokio::test]
async fn gate_errors_follow_the_failure_policy_and_warnings_pass_through() {
    let body = pinned_fixture("statefulset.json").replace(
        "wharf.test:5000/team/metrics:2",
        &format!("wharf.test:5000/team/metrics@{DIGEST}"),
    );
    let w = webhook(
        WebhookConfig::default(),
        ResolverOptions::default(),
        Some(Arc::new(Flaky)),
    );
    let r = &respond(&w, &body, false).await["response"];
    assert_eq!(r["allowed"], false);
    assert_eq!(
        r["status"]["message"],
        format!(
            "container \"metrics\" image \"wharf.test:5000/team/metrics@{DIGEST}\": policy check failed: signature store unreachable (could not be checked; failure policy: fail)"
        )
    );
    assert_eq!(
        r["warnings"][0],
        format!("container \"app\" image \"wharf.test:5000/team/app@{DIGEST}\": no SBOM attached")
    );
}

#[tokio::test]
async fn invalid_references_are_denied_with_the_reason() {
    let w = webhook(WebhookConfig::default(), ResolverOptions::default(), None);
    let r = &respond(&w, &fixture("job.json").replace(APP, "Team/App:1"), false).await["response"];
    assert_eq!(r["allowed"], false);
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "init container \"migrate\" image \"Team/App:1\": not a valid image reference"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("; container \"app\" image \"Team/App:1\": not a valid image reference"),
        "{msg}"
    );
}

#[tokio::test]
async fn updates_check_only_images_the_old_object_did_not_run() {
    // Every registry is refused, so anything checked is denied.
    let nothing: Option<Arc<dyn ImageGate>> =
        Some(Arc::new(AllowedRegistries::new(["elsewhere.example"])));
    let w = webhook(
        WebhookConfig::default(),
        ResolverOptions::default(),
        nothing,
    );

    // kubectl debug: only the new ephemeral container is checked.
    let r = &respond(&w, &fixture("pod-ephemeral.json"), false).await["response"];
    assert_eq!(r["allowed"], false);
    assert_eq!(
        r["status"]["message"],
        "ephemeral container \"debugger\" image \"wharf.test:5000/team/debug:1\": registry wharf.test:5000 is not allowed (allowed: elsewhere.example)"
    );

    // Scaling a Deployment admitted earlier: nothing new, nothing checked.
    let mut review: Value = serde_json::from_str(&fixture("deployment.json")).unwrap();
    let req = &mut review["request"];
    req["operation"] = "UPDATE".into();
    req["oldObject"] = req["object"].clone();
    req["object"]["spec"]["replicas"] = 5.into();
    req["options"] = serde_json::json!({"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"});
    assert_eq!(
        respond(&w, &review.to_string(), true).await["response"]["allowed"],
        true
    );

    // Changing the image is checked.
    review["request"]["object"]["spec"]["template"]["spec"]["containers"][0]["image"] =
        "wharf.test:5000/team/app:2.0".into();
    assert_eq!(
        respond(&w, &review.to_string(), true).await["response"]["allowed"],
        false
    );
}
