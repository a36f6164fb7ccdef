//! `/metrics` read by the Prometheus project's own parser (Python
//! `prometheus_client.parser`): requests counted by route family, method and
//! status, latency histograms, bytes out, pull-gate verdicts; `/livez`, `/readyz`.

mod common;

use std::process::Command;

use common::curl;
use common::tag_rules::{
    ADMIN_PW, create_project, distinct_bytes, layout_image, skopeo_push_ok, start_auth,
};
use serde_json::{Value, json};

/// Every sample: (name, labels, value), as the reference parser reads the text.
fn scrape(w: &common::Wharf) -> Vec<(String, Value, f64)> {
    let r = curl("GET", &w.url("/metrics")).send();
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("metrics.txt");
    std::fs::write(&f, &r.body).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import json,sys\n\
             from prometheus_client.parser import text_string_to_metric_families as p\n\
             print(json.dumps([[s.name, s.labels, s.value] for f in p(open(sys.argv[1]).read()) for s in f.samples]))",
        )
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the reference parser refused /metrics: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<(String, Value, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    v
}

fn value(samples: &[(String, Value, f64)], name: &str, labels: Value) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .as_object()
                    .unwrap()
                    .iter()
                    .all(|(k, v)| l.get(k) == Some(v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[test]
fn metrics_parse_and_count_what_happened() {
    let w = start_auth(&[]);
    assert_eq!(curl("GET", &w.url("/livez")).send().status, 200);
    assert_eq!(curl("GET", &w.url("/readyz")).send().status, 200);
    create_project(&w, "m", json!({}));
    skopeo_push_ok(&w, "small", "v1", "m/app:v1");
    let small = layout_image("small", "v1");

    let before = scrape(&w);
    let pulls = 3;
    for _ in 0..pulls {
        let r = curl("GET", &w.url("/v2/m/app/manifests/v1"))
            .arg("-u")
            .arg(&format!("admin:{ADMIN_PW}"))
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send();
        assert_eq!(r.status, 200);
    }
    let after = scrape(&w);
    let gets = json!({"family": "manifests", "method": "GET", "status": "200"});
    assert_eq!(
        value(&after, "wharf_http_requests_total", gets.clone())
            - value(&before, "wharf_http_requests_total", gets),
        pulls as f64
    );
    // skopeo's manifest PUT was counted as a 201.
    let put = json!({"family": "manifests", "method": "PUT", "status": "201"});
    assert!(value(&after, "wharf_http_requests_total", put) >= 1.0);
    // The manifest's bytes (from the OCI layout) went out once per GET.
    let out = json!({"family": "manifests"});
    assert_eq!(
        value(&after, "wharf_http_response_bytes_total", out.clone())
            - value(&before, "wharf_http_response_bytes_total", out),
        (pulls * small.manifest.1) as f64
    );
    // One latency observation per request of the family.
    let all_manifests: f64 = value(
        &after,
        "wharf_http_requests_total",
        json!({"family": "manifests"}),
    );
    assert_eq!(
        value(
            &after,
            "wharf_http_request_duration_seconds_count",
            json!({"family": "manifests"})
        ),
        all_manifests
    );
    let allowed = json!({"outcome": "allowed"});
    assert_eq!(
        value(&after, "wharf_pull_gate_decisions_total", allowed.clone())
            - value(&before, "wharf_pull_gate_decisions_total", allowed),
        pulls as f64
    );

    // Storage per project: the layout's distinct bytes, as the quota counts them.
    assert_eq!(
        value(
            &after,
            "wharf_project_storage_bytes",
            json!({"project": "m"})
        ),
        distinct_bytes(&[&small]) as f64
    );
    // Jobs by kind and status: a GC dry run, once it has ended.
    assert_eq!(value(&after, "wharf_jobs", json!({"kind": "gc"})), 0.0);
    let r = curl("POST", &w.url("/api/v2.0/system/gc/schedule"))
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"))
        .header("Content-Type", "application/json")
        .body(json!({"schedule": {"type": "Manual"}, "parameters": {"dry_run": true}}).to_string())
        .send();
    assert!(
        matches!(r.status, 200 | 201),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let m = scrape(&w);
        if value(&m, "wharf_jobs", json!({"kind": "gc", "status": "Success"})) == 1.0 {
            assert_eq!(value(&m, "wharf_jobs", json!({"kind": "gc"})), 1.0);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the GC job never showed as Success"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `wharf_uploads_in_flight` counts upload sessions: one opened by a POST (no PUT yet)
/// shows as 1; after its PUT closes it, and after another is cancelled, 0.
#[test]
fn uploads_in_flight_counts_open_sessions() {
    let w = start_auth(&[]);
    create_project(&w, "u", json!({}));
    let creds = format!("admin:{ADMIN_PW}");
    let gauge = |w: &common::Wharf| value(&scrape(w), "wharf_uploads_in_flight", json!({}));
    assert_eq!(gauge(&w), 0.0);
    let open = |w: &common::Wharf| {
        let r = curl("POST", &w.url("/v2/u/app/blobs/uploads/"))
            .arg("-u")
            .arg(&creds)
            .send();
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        r.header("location").unwrap().to_string()
    };
    let first = open(&w);
    assert_eq!(gauge(&w), 1.0);
    let second = open(&w);
    assert_eq!(gauge(&w), 2.0);

    let data = b"an upload that ends";
    let digest = common::sha256(data);
    let sep = if first.contains('?') { '&' } else { '?' };
    let put = curl("PUT", &w.url(&format!("{first}{sep}digest={digest}")))
        .arg("-u")
        .arg(&creds)
        .header("Content-Type", "application/octet-stream")
        .body(data.to_vec())
        .send();
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
    assert_eq!(gauge(&w), 1.0);
    let cancel = curl("DELETE", &w.url(&second)).arg("-u").arg(&creds).send();
    assert_eq!(cancel.status, 204);
    assert_eq!(gauge(&w), 0.0);
}
