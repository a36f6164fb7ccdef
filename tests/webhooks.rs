//! Webhooks end to end: a real receiver (a small HTTP server in the test) gets
//! Harbor's payload for a skopeo push, signed with HMAC-SHA256 as Python's `hmac`
//! computes it; a receiver answering 500 is retried and the delivery log shows
//! every attempt; a receiver that never answers does not slow pushes.

mod common;

use std::time::{Duration, Instant};

use common::receiver::{Receiver, python_hmac};
use common::tag_rules::{
    api, create_project, created_id, layout_image, skopeo_push_ok, start_auth,
};
use serde_json::{Value, json};

fn add_policy(w: &common::Wharf, project: &str, policy: Value) -> i64 {
    created_id(
        &api(w, "POST", &format!("/projects/{project}/webhook/policies"))
            .body(policy.to_string())
            .send(),
    )
}

#[test]
fn pushes_are_delivered_signed_in_harbor_payloads() {
    let w = start_auth(&[]);
    create_project(&w, "hooks", json!({}));
    let plain = Receiver::start(200, Duration::ZERO);
    let cloud = Receiver::start(200, Duration::ZERO);
    let id = add_policy(
        &w,
        "hooks",
        json!({
            "name": "ci", "event_types": ["PUSH_ARTIFACT", "DELETE_ARTIFACT"], "secret": "s3cr3t",
            "targets": [
                {"type": "http", "address": plain.url, "auth_header": "Bearer abc"},
                {"type": "http", "address": cloud.url, "payload_format": "CloudEvents"}
            ]
        }),
    );
    // The secret is write-only.
    let shown = api(&w, "GET", &format!("/projects/hooks/webhook/policies/{id}"))
        .send()
        .json();
    assert_eq!(shown["name"], "ci");
    assert!(shown.get("secret").is_none(), "{shown}");
    assert_eq!(shown["targets"][1]["payload_format"], "CloudEvents");

    let small = layout_image("small", "v1");
    skopeo_push_ok(&w, "small", "v1", "hooks/app:v1");
    let got = plain.wait_for(1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "one delivery for one push");
    let d = &got[0];
    assert_eq!(d.header("authorization"), Some("Bearer abc"));
    assert_eq!(
        d.header("x-wharf-signature").unwrap(),
        python_hmac("s3cr3t", &d.body)
    );
    let ts: i64 = d.header("x-wharf-timestamp").unwrap().parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now - ts).abs() < 60);
    let p: Value = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(p["type"], "PUSH_ARTIFACT");
    let r = &p["event_data"]["resources"][0];
    assert_eq!(r["digest"], small.manifest.0);
    assert_eq!(r["tag"], "v1");
    assert!(
        r["resource_url"]
            .as_str()
            .unwrap()
            .ends_with("/hooks/app:v1")
    );
    assert_eq!(p["event_data"]["repository"]["repo_full_name"], "hooks/app");
    assert_eq!(p["event_data"]["repository"]["namespace"], "hooks");

    let c = &cloud.wait_for(1, Duration::from_secs(20))[0];
    assert_eq!(
        c.header("content-type"),
        Some("application/cloudevents+json")
    );
    assert_eq!(
        c.header("x-wharf-signature").unwrap(),
        python_hmac("s3cr3t", &c.body)
    );
    let ce: Value = serde_json::from_slice(&c.body).unwrap();
    assert_eq!(ce["specversion"], "1.0");
    assert_eq!(ce["type"], "harbor.artifact.pushed");
    assert_eq!(ce["data"]["resources"][0]["digest"], small.manifest.0);

    // A delete is an event the policy wants too; the delivery log shows both.
    let r = api(
        &w,
        "DELETE",
        &format!(
            "/projects/hooks/repositories/app/artifacts/{}",
            small.manifest.0
        ),
    )
    .send();
    assert_eq!(r.status, 200);
    let got = plain.wait_for(2, Duration::from_secs(20));
    let p: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(p["type"], "DELETE_ARTIFACT");
    let events = api(&w, "GET", "/projects/hooks/webhook/events")
        .send()
        .json();
    assert!(
        events["event_type"]
            .as_array()
            .unwrap()
            .contains(&json!("SCANNING_COMPLETED"))
    );
    // The signing secret and the receiver's credentials never reach the log.
    let log = w.log_text();
    for secret in ["s3cr3t", "Bearer abc"] {
        assert!(!log.contains(secret), "{secret:?} is in the server log");
    }
}

#[test]
fn failing_receivers_are_retried_and_every_attempt_is_logged() {
    let w = start_auth(&[]);
    create_project(&w, "hooks", json!({}));
    let failing = Receiver::start(500, Duration::ZERO);
    let id = add_policy(
        &w,
        "hooks",
        json!({"name": "down", "event_types": ["PUSH_ARTIFACT"],
               "targets": [{"type": "http", "address": failing.url}]}),
    );
    skopeo_push_ok(&w, "small", "v1", "hooks/app:v1");
    let path = format!("/projects/hooks/webhook/policies/{id}/executions");
    let start = Instant::now();
    let execution = loop {
        let list = api(&w, "GET", &path).send().json();
        if list[0]["status"] == "Error" {
            break list[0].clone();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{list}");
        std::thread::sleep(Duration::from_millis(200));
    };
    // Three attempts (Harbor's retry count), each seen by the receiver.
    assert_eq!(failing.got().len(), 3);
    assert_eq!(execution["extra_attrs"]["attempts"], 3);
    assert_eq!(execution["extra_attrs"]["last_status_code"], 500);
    let eid = execution["id"].as_i64().unwrap();
    let tasks = api(&w, "GET", &format!("{path}/{eid}/tasks")).send().json();
    assert_eq!(tasks[0]["run_count"], 3);
    let log = api(&w, "GET", &format!("{path}/{eid}/tasks/{eid}/log")).send();
    let log = String::from_utf8(log.body).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    for (i, l) in lines.iter().enumerate() {
        assert!(
            l.ends_with(&format!("attempt {}: HTTP 500", i + 1)),
            "{log}"
        );
    }
}

#[test]
fn a_receiver_that_hangs_does_not_slow_pushes() {
    let w = start_auth(&[]);
    create_project(&w, "hooks", json!({}));
    let hanging = Receiver::start(200, Duration::from_secs(60));
    add_policy(
        &w,
        "hooks",
        json!({"name": "slow", "event_types": ["PUSH_ARTIFACT", "PULL_ARTIFACT"],
               "targets": [{"type": "http", "address": hanging.url}]}),
    );
    skopeo_push_ok(&w, "small", "v1", "hooks/app:v1");
    // The first delivery is in flight: the receiver holds it without answering.
    assert_eq!(hanging.wait_for(1, Duration::from_secs(20)).len(), 1);
    let start = Instant::now();
    for tag in ["v2", "v3", "v4"] {
        skopeo_push_ok(&w, "small", "v1", &format!("hooks/app:{tag}"));
    }
    let took = start.elapsed();
    // Pushes of a few kilobytes on loopback: far below one delivery's 10 s deadline.
    assert!(took < Duration::from_secs(8), "three pushes took {took:?}");
    // Those deliveries still happen, concurrently with the hanging one.
    assert!(hanging.wait_for(4, Duration::from_secs(20)).len() >= 4);
}

/// A push that takes a project past `--quota-warning-percent` of its storage limit
/// (here 50; Harbor's default is 85) sends QUOTA_WARNING in Harbor's quota payload,
/// signed; a second push that adds nothing sends no second warning.
#[test]
fn a_push_past_the_warning_percentage_sends_quota_warning() {
    let w = start_auth(&["--quota-warning-percent", "50"]);
    let small = layout_image("small", "v1");
    let bytes = common::tag_rules::distinct_bytes(&[&small]);
    // The image is 60% of the limit: past 50%, below 85% and the limit itself.
    let limit = bytes * 100 / 60;
    create_project(&w, "hooks", json!({"storage_limit": limit}));
    let receiver = Receiver::start(200, Duration::ZERO);
    add_policy(
        &w,
        "hooks",
        json!({"name": "quota", "event_types": ["QUOTA_WARNING"], "secret": "q-secret",
               "targets": [{"type": "http", "address": receiver.url}]}),
    );
    skopeo_push_ok(&w, "small", "v1", "hooks/app:v1");
    let got = receiver.wait_for(1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "one warning for one crossing");
    let d = &got[0];
    assert_eq!(
        d.header("x-wharf-signature").unwrap(),
        python_hmac("q-secret", &d.body)
    );
    let p: Value = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(p["type"], "QUOTA_WARNING", "{p}");
    assert_eq!(p["event_data"]["repository"]["repo_full_name"], "hooks/app");
    assert_eq!(p["event_data"]["repository"]["namespace"], "hooks");
    let details = p["event_data"]["custom_attributes"]["Details"]
        .as_str()
        .unwrap();
    assert!(details.contains("50%"), "{details}");
    assert!(details.contains(&format!("of {limit} bytes")), "{details}");
    assert!(
        p["event_data"]["resources"][0]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{p}"
    );

    // Nothing new stored: no second crossing, no second warning.
    skopeo_push_ok(&w, "small", "v1", "hooks/app:v2");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.got().len(), 1);
}
