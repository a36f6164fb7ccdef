//! The counters services share with `/metrics`: each service increments its own
//! families here, and `http::metrics` encodes them all in the Prometheus text
//! format. One registry per `Services`, so two servers in one process (tests)
//! never mix their numbers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route family: manifests, blobs, uploads, tags, catalog, referrers, api, token, …
    pub family: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FamilyLabel {
    pub family: String,
}

/// Why a request or connection was refused before any handler ran.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

/// A job kind and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub kind: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProjectLabel {
    pub project: String,
}

/// One label naming an outcome (`status`, `decision`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

fn latency() -> Histogram {
    // 1 ms … ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub struct Metrics {
    pub registry: Registry,
    pub http_requests: Family<RequestLabels, Counter>,
    pub http_latency: Family<FamilyLabel, Histogram, fn() -> Histogram>,
    pub http_bytes_in: Family<FamilyLabel, Counter>,
    pub http_bytes_out: Family<FamilyLabel, Counter>,
    pub http_in_flight: Gauge,
    /// Upload sessions open (a POST without its closing PUT yet), read at each scrape.
    pub uploads_in_flight: Gauge,
    /// Webhook delivery attempts by outcome: success, retry, error, dropped.
    pub webhook_deliveries: Family<OutcomeLabel, Counter>,
    /// Replication tasks by final status (Succeed, Failed, Stopped): the
    /// replication service increments it.
    pub replication_tasks: Family<OutcomeLabel, Counter>,
    /// Pull-gate verdicts (allowed, refused): counted on the manifest GET path.
    pub pull_gate_decisions: Family<OutcomeLabel, Counter>,
    /// What proxy caches did: fetched (a manifest miss), moved (a tag re-fetched),
    /// stale (cached content served, the upstream failing), unavailable (a miss with
    /// the upstream failing), stored, not_stored (fetched content refused).
    pub proxy_cache: Family<OutcomeLabel, Counter>,
    /// Scan records by status (Pending, Running, Success, Error, Stopped), read at each scrape.
    pub scans: Family<OutcomeLabel, Gauge>,
    /// Jobs of the durable queue by kind and status, read at each scrape.
    pub jobs: Family<JobLabels, Gauge>,
    /// Bytes each project stores by the quota's usage rule, read at each scrape.
    pub project_storage: Family<ProjectLabel, Gauge>,
    /// Refusals by the limits against abuse, before any handler: headers_too_large
    /// (431), body_too_large (413), rate_limited (429), too_many_connections.
    /// Refusals answered by handlers (login throttling, upload caps) are in
    /// `http_requests` with their status.
    pub http_refusals: Family<ReasonLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("wharf");
        let m = Metrics {
            http_requests: Family::default(),
            http_latency: Family::new_with_constructor(latency),
            http_bytes_in: Family::default(),
            http_bytes_out: Family::default(),
            http_in_flight: Gauge::default(),
            uploads_in_flight: Gauge::default(),
            webhook_deliveries: Family::default(),
            replication_tasks: Family::default(),
            pull_gate_decisions: Family::default(),
            proxy_cache: Family::default(),
            scans: Family::default(),
            jobs: Family::default(),
            project_storage: Family::default(),
            http_refusals: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests by route family, method and status",
            m.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by route family",
            m.http_latency.clone(),
        );
        registry.register(
            "http_request_bytes",
            "Request body bytes (by Content-Length), by route family",
            m.http_bytes_in.clone(),
        );
        registry.register(
            "http_response_bytes",
            "Response body bytes (by Content-Length), by route family",
            m.http_bytes_out.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "Requests being handled (uploads included)",
            m.http_in_flight.clone(),
        );
        registry.register(
            "uploads_in_flight",
            "Blob upload sessions open (started and not yet finished or cancelled)",
            m.uploads_in_flight.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome",
            m.webhook_deliveries.clone(),
        );
        registry.register(
            "replication_tasks",
            "Replication tasks by final status",
            m.replication_tasks.clone(),
        );
        registry.register(
            "pull_gate_decisions",
            "Pull-gate verdicts on manifest GETs",
            m.pull_gate_decisions.clone(),
        );
        registry.register(
            "proxy_cache_events",
            "What proxy cache projects did, by outcome",
            m.proxy_cache.clone(),
        );
        registry.register(
            "scans",
            "Artifacts' scan records by status",
            m.scans.clone(),
        );
        registry.register(
            "jobs",
            "Jobs of the durable queue by kind and status",
            m.jobs.clone(),
        );
        registry.register(
            "project_storage_bytes",
            "Bytes a project stores (distinct blobs and manifests, as its quota counts them)",
            m.project_storage.clone(),
        );
        registry.register(
            "http_refusals",
            "Requests and connections refused by the limits against abuse, by reason",
            m.http_refusals.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn outcome(family: &Family<OutcomeLabel, Counter>, outcome: &str) {
        family
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn refused(&self, reason: &str) {
        Self::refusal(&self.http_refusals, reason);
    }

    /// Count a refusal in `http_refusals` (or a clone of it, as the connection
    /// loop holds).
    pub fn refusal(family: &Family<ReasonLabel, Counter>, reason: &str) {
        family
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The Prometheus text exposition of every family.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
