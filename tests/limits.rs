//! Limits against abuse, driven by real clients against the real binary: curl for
//! oversized heads and bodies, a Python slowloris holding many half-open connections,
//! bursts of logins and of requests. Other clients come from other loopback addresses
//! (127.0.0.2, …): the limits are per client address, and the point of each is that
//! one abusive address does not take the server away from the rest.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::tag_rules::{ADMIN_PW, api, start_auth};
use common::{Wharf, curl, require, sha256};
use serde_json::json;

/// `wharf_http_refusals_total{reason=…}` from `/metrics` (0 when absent).
fn refusals(w: &Wharf, reason: &str) -> u64 {
    let text = String::from_utf8(curl("GET", &w.url("/metrics")).send().body).unwrap();
    let prefix = format!("wharf_http_refusals_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// A request from another loopback address.
fn curl_from(source: &str, method: &str, url: &str) -> common::Curl {
    curl(method, url).arg("--interface").arg(source)
}

#[test]
fn oversized_heads_get_431_and_the_server_stays_up() {
    let w = Wharf::start_with(&["--max-header-bytes", "8192"]);
    // Over the configured limit: refused with the OCI error body.
    let r = curl("GET", &w.url("/v2/"))
        .header("X-Padding", &"a".repeat(10_000))
        .send();
    assert_eq!(r.status, 431);
    assert_eq!(r.error_code(), "SIZE_INVALID");
    // Far over it (past hyper's own buffer): refused before any handler runs.
    let r = curl("GET", &w.url("/v2/"))
        .header("X-Padding", &"a".repeat(60_000))
        .header("X-Padding-2", &"b".repeat(60_000))
        .header("X-Padding-3", &"c".repeat(60_000))
        .header("X-Padding-4", &"d".repeat(60_000))
        .header("X-Padding-5", &"e".repeat(60_000))
        .header("X-Padding-6", &"f".repeat(60_000))
        .header("X-Padding-7", &"g".repeat(60_000))
        .send();
    assert_eq!(r.status, 431);
    // Under it: served.
    let r = curl("GET", &w.url("/v2/"))
        .header("X-Padding", &"a".repeat(4_000))
        .send();
    assert_eq!(r.status, 200);
    // Both refusals are counted.
    assert_eq!(refusals(&w, "headers_too_large"), 2);
}

#[test]
fn api_and_manifest_bodies_over_their_limits_get_413() {
    let w = start_auth(&["--max-api-body-bytes", "2048"]);
    let big =
        json!({"project_name": "big", "metadata": {"public": "true"}, "padding": "x".repeat(4096)});
    let r = api(&w, "POST", "/projects").body(big.to_string()).send();
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.error_code(), "SIZE_INVALID");
    // Without a Content-Length (chunked), the body is cut off at the limit all the same.
    let r = api(&w, "POST", "/projects")
        .header("Transfer-Encoding", "chunked")
        .body(big.to_string())
        .send();
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    // A body within the limit is served.
    let r = api(&w, "POST", "/projects")
        .body(json!({"project_name": "small", "metadata": {"public": "true"}}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    // A manifest over the distribution spec's 4 MiB: 413 MANIFEST_INVALID.
    let mut manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"x":""#.to_vec();
    manifest.extend(std::iter::repeat_n(b'a', 4 * 1024 * 1024 + 1));
    manifest.extend(br#""}}"#);
    let r = curl("PUT", &w.url("/v2/small/app/manifests/v1"))
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send();
    assert_eq!(r.status, 413);
    assert_eq!(r.error_code(), "MANIFEST_INVALID");
}

/// Bodies the API cannot read are answered like every other API error: Harbor's
/// `{"errors":[{code, message}]}` saying what is wrong, and nothing is created.
#[test]
fn malformed_api_json_gets_an_error_body_and_changes_nothing() {
    let w = start_auth(&[]);
    let error = |r: &common::Resp| -> (String, String) {
        let v: serde_json::Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&r.body)));
        (
            v["errors"][0]["code"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            v["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    // Not JSON at all, and JSON cut short.
    for body in ["project_name=x", r#"{"project_name": "cut"#] {
        let r = api(&w, "POST", "/projects").body(body.to_string()).send();
        assert_eq!(r.status, 400, "{body}");
        let (code, message) = error(&r);
        assert_eq!(code, "BAD_REQUEST");
        assert!(message.contains("not valid JSON"), "{message}");
    }
    // Valid JSON of the wrong shape: the field is named.
    let r = api(&w, "POST", "/projects/library/members")
        .body(json!({"role_id": "developer", "member_user": {"username": "admin"}}).to_string())
        .send();
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(error(&r).1.contains("role_id"), "{:?}", error(&r));
    // JSON sent as a form (curl -d's default type): 415, saying what to send.
    let r = curl("POST", &w.url("/api/v2.0/projects"))
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(json!({"project_name": "formed"}).to_string())
        .send();
    assert_eq!(r.status, 415);
    assert_eq!(
        error(&r),
        (
            "UNSUPPORTED_MEDIA_TYPE".to_string(),
            "send the request body as JSON, with Content-Type: application/json".to_string()
        )
    );
    let projects = api(&w, "GET", "/projects").send();
    // Security headers on API answers; no HSTS over plain HTTP.
    assert_eq!(projects.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        projects.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    assert_eq!(projects.header("strict-transport-security"), None);
    let projects = projects.json();
    let names: Vec<&str> = projects
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, vec!["library"], "nothing was created");
}

fn start_upload(w: &Wharf, source: &str) -> common::Resp {
    curl_from(source, "POST", &w.url("/v2/library/app/blobs/uploads/")).send()
}

#[test]
fn upload_sessions_are_capped_per_client_and_in_total() {
    let w = Wharf::start_with(&[
        "--max-uploads-per-client",
        "3",
        "--max-concurrent-uploads",
        "5",
    ]);
    let mut first = Vec::new();
    for _ in 0..3 {
        let r = start_upload(&w, "127.0.0.1");
        assert_eq!(r.status, 202);
        first.push(r.header("location").unwrap().to_string());
    }
    let r = start_upload(&w, "127.0.0.1");
    assert_eq!(r.status, 429);
    assert_eq!(r.error_code(), "TOOMANYREQUESTS");
    // A monolithic upload is a session too.
    let data = b"one more blob";
    let r = curl_from(
        "127.0.0.1",
        "POST",
        &w.url(&format!(
            "/v2/library/app/blobs/uploads/?digest={}",
            sha256(data)
        )),
    )
    .header("Content-Type", "application/octet-stream")
    .body(data.to_vec())
    .send();
    assert_eq!(r.status, 429);
    // Another address has its own allowance...
    assert_eq!(start_upload(&w, "127.0.0.2").status, 202);
    assert_eq!(start_upload(&w, "127.0.0.2").status, 202);
    // ...within the global one (5 open now).
    let r = start_upload(&w, "127.0.0.3");
    assert_eq!(r.status, 429);
    assert_eq!(r.error_code(), "TOOMANYREQUESTS");
    // Finishing or cancelling a session gives its slot back.
    let r = curl("DELETE", &w.url(&first[0])).send();
    assert_eq!(r.status, 204);
    let r = start_upload(&w, "127.0.0.1");
    assert_eq!(r.status, 202);
    let loc = r.header("location").unwrap().to_string();
    let r = curl("DELETE", &w.url(&first[1])).send();
    assert_eq!(r.status, 204);
    let blob = b"finished";
    let sep = if loc.contains('?') { '&' } else { '?' };
    let r = curl("PUT", &w.url(&format!("{loc}{sep}digest={}", sha256(blob))))
        .header("Content-Type", "application/octet-stream")
        .body(blob.to_vec())
        .send();
    assert_eq!(r.status, 201);
    // Two of 127.0.0.1's slots are free again (one cancelled, one finished).
    assert_eq!(start_upload(&w, "127.0.0.1").status, 202);
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[test]
fn a_slowloris_does_not_starve_other_clients() {
    require("python3");
    let w = Wharf::start_with(&[
        "--header-read-timeout",
        "2",
        "--max-connections-per-client",
        "50",
    ]);
    let script = common::repo_root().join("tests/slowloris.py");
    let attack = Command::new("python3")
        .arg(&script)
        .args(["127.0.0.1", &w.port.to_string(), "300", "8", "127.0.0.1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Meanwhile another client keeps pulling the API root from another address.
    std::thread::sleep(Duration::from_millis(500));
    let mut latencies = Vec::new();
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        let start = Instant::now();
        let r = curl_from("127.0.0.2", "GET", &w.url("/v2/")).send();
        latencies.push(start.elapsed());
        assert_eq!(
            r.status, 200,
            "another client was not served during the attack"
        );
    }
    let out = attack.wait_with_output().unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    latencies.sort();
    println!(
        "slowloris: {report}; other client: {} requests, p50 {:?}, p99 {:?} (curl process included)",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    // Every half-open connection was closed by the server: refused over the address's
    // cap, or cut off when its headers did not arrive in time.
    let opened = report["opened"].as_u64().unwrap();
    assert!(opened > 0);
    assert_eq!(report["still_open"], 0, "{report}");
    // And the server still serves the attacking address once it stops.
    assert_eq!(curl("GET", &w.url("/v2/")).send().status, 200);
}

#[test]
fn an_idle_http2_connection_is_closed_even_while_it_answers_pings() {
    require("python3");
    let w = Wharf::start_with(&["--header-read-timeout", "2"]);
    // The client sends one request, then only answers pings; it gives up after 20 s.
    let out = Command::new("python3")
        .arg(common::repo_root().join("tests/h2_idle.py"))
        .args(["127.0.0.1", &w.port.to_string(), "20"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("idle HTTP/2 client: {report}");
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["max_concurrent_streams"], 256, "{report}");
    assert!(
        report["pings"].as_u64().unwrap() >= 1,
        "the client was never pinged: {report}"
    );
    assert_eq!(
        report["goaway"], true,
        "the server never said GOAWAY: {report}"
    );
    assert_eq!(
        report["closed"], true,
        "the connection stayed open: {report}"
    );
}

/// `GET /service/token` with Basic credentials from `source`.
fn login(w: &Wharf, source: &str, user: &str, password: &str) -> common::Resp {
    curl_from(source, "GET", &w.url("/service/token?service=wharf"))
        .arg("-u")
        .arg(&format!("{user}:{password}"))
        .send()
}

#[test]
fn a_burst_of_logins_gets_429_with_retry_after() {
    let w = start_auth(&["--auth-rate-limit", "5"]);
    let mut statuses = Vec::new();
    let mut limited = None;
    for i in 0..10 {
        let r = login(&w, "127.0.0.1", "admin", &format!("guess-{i}"));
        statuses.push(r.status);
        if r.status == 429 && limited.is_none() {
            limited = Some(r);
        }
    }
    // Five checks a minute: the first five are checked (and fail), the rest refused.
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let r = limited.unwrap();
    assert_eq!(r.error_code(), "TOOMANYREQUESTS");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Even the right password is refused from that address: no check is made at all.
    assert_eq!(login(&w, "127.0.0.1", "admin", ADMIN_PW).status, 429);
    // Basic auth on /v2 and on the management API is the same check.
    let r = curl("GET", &w.url("/v2/"))
        .arg("-u")
        .arg("admin:another-guess")
        .send();
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    // Another address logs in.
    assert_eq!(login(&w, "127.0.0.2", "admin", ADMIN_PW).status, 200);
}

/// `n` GETs of `url` from one curl process (one connection, `extra` arguments first),
/// their statuses in order.
fn burst_with(extra: &[&str], url: &str, n: usize) -> Vec<u16> {
    let out = Command::new("curl")
        .args(["-s", "-w", "%{http_code}\n"])
        .args(extra)
        .args((0..n).flat_map(|_| ["-o", "/dev/null", url]))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn burst(url: &str, n: usize) -> Vec<u16> {
    burst_with(&[], url, n)
}

#[test]
fn request_rate_limit_answers_429_then_recovers() {
    let w = Wharf::start_with(&["--request-rate-limit", "5"]);
    // 5 a second in bursts of 10 (less what the start-up probe took): 60 requests at
    // once cannot all pass, the first few do.
    let statuses = burst(&w.url("/v2/"), 60);
    let refused = statuses.iter().filter(|s| **s == 429).count() as u64 + 1;
    assert!(statuses.iter().take(5).all(|s| *s == 200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().all(|s| matches!(s, 200 | 429)));
    let r = curl("GET", &w.url("/v2/")).send();
    assert_eq!(r.status, 429);
    assert_eq!(r.error_code(), "TOOMANYREQUESTS");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    // Health probes are never limited.
    assert_eq!(curl("GET", &w.url("/livez")).send().status, 200);
    // After the advertised wait, requests pass again.
    std::thread::sleep(Duration::from_secs(retry));
    assert_eq!(curl("GET", &w.url("/v2/")).send().status, 200);
    // Every 429 the clients saw is counted.
    assert_eq!(refusals(&w, "rate_limited"), refused);
}

/// Behind a load balancer every client shares its address: with the balancer
/// named in `--trusted-proxies`, each forwarded client gets its own budget, and
/// from anyone else the header is ignored (a client cannot pick a fresh address).
#[test]
fn forwarded_clients_behind_a_trusted_proxy_get_their_own_budget() {
    let w = Wharf::start_with(&[
        "--request-rate-limit",
        "2",
        "--trusted-proxies",
        "127.0.0.1",
    ]);
    let url = w.url("/v2/");
    let from = |client: &str| vec!["-H".to_string(), format!("X-Forwarded-For: {client}")];
    let a = from("203.0.113.1");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let statuses = burst_with(&a, &url, 20);
    assert!(statuses.contains(&429), "{statuses:?}");
    // Another client through the same balancer is not held to the first one's budget.
    let b = from("203.0.113.2");
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    assert_eq!(burst_with(&b, &url, 2), vec![200, 200]);
    // A forged entry before the real client changes nothing.
    let forged = from("198.51.100.9, 203.0.113.1");
    let forged: Vec<&str> = forged.iter().map(String::as_str).collect();
    assert_eq!(burst_with(&forged, &url, 1), vec![429]);
    // The standard `Forwarded` header names clients the same way: the first client
    // through it is the one already held, a new one gets its own budget.
    let std_a = ["-H", "Forwarded: for=\"203.0.113.1:5000\";proto=http"];
    assert_eq!(burst_with(&std_a, &url, 1), vec![429]);
    let std_c = ["-H", "Forwarded: for=203.0.113.3;proto=http"];
    assert_eq!(burst_with(&std_c, &url, 2), vec![200, 200]);

    // Not a trusted proxy (127.0.0.2): its header is ignored, its own address counts.
    let statuses = burst_with(
        &[
            "--interface",
            "127.0.0.2",
            "-H",
            "X-Forwarded-For: 192.0.2.1",
        ],
        &url,
        20,
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    let other = burst_with(
        &[
            "--interface",
            "127.0.0.2",
            "-H",
            "X-Forwarded-For: 192.0.2.2",
        ],
        &url,
        1,
    );
    assert_eq!(other, vec![429], "a new header does not buy a new budget");
}

#[test]
fn robots_can_be_exempt_from_the_request_rate() {
    let w = start_auth(&[
        "--request-rate-limit",
        "2",
        "--rate-limit-exempt-robots",
        "--auth-rate-limit",
        "0",
    ]);
    let r = api(&w, "POST", "/projects")
        .body(json!({"project_name": "ci", "metadata": {"public": "false"}}).to_string())
        .send();
    assert_eq!(r.status, 201);
    std::thread::sleep(Duration::from_secs(2));
    let spec = json!({"name": "builder", "level": "project", "duration": -1,
        "permissions": [{"kind": "project", "namespace": "ci", "access": [
            {"resource": "repository", "action": "pull"}]}]});
    let r = api(&w, "POST", "/robots").body(spec.to_string()).send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let robot = r.json();
    let (name, secret) = (
        robot["name"].as_str().unwrap().to_string(),
        robot["secret"].as_str().unwrap().to_string(),
    );
    let creds = format!("{name}:{secret}");
    let statuses = burst_with(&["-u", &creds], &w.url("/v2/ci/app/tags/list"), 30);
    assert_eq!(statuses.len(), 30);
    // Authenticated as the robot: never limited (404: the repository is empty).
    assert!(statuses.iter().all(|s| *s != 429), "{statuses:?}");
    // Anonymous requests from the same address are.
    let statuses = burst(&w.url("/v2/"), 30);
    assert!(statuses.contains(&429), "{statuses:?}");
}
