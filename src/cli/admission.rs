//! `wharf admission serve`: the Kubernetes admission webhook
//! (`wharf_admission`), configured from flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use wharf_admission::exclude::Exclusions;
use wharf_admission::server::{self, Listen};
use wharf_admission::{
    AllGates, AllowedRegistries, FailurePolicy, ImageGate, Mode, Resolver, ResolverOptions,
    Webhook, WebhookConfig,
};
use wharf_policy::{
    Evaluator, EvaluatorOptions, PolicySet, RegistryOptions as PolicyRegistryOptions,
};

#[derive(Args, Debug)]
pub struct AdmissionArgs {
    #[command(subcommand)]
    command: AdmissionCommand,
}

#[derive(Subcommand, Debug)]
enum AdmissionCommand {
    /// Serve the validating (/validate) and mutating (/mutate) webhook endpoints.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
#[command(after_help = "\
Every container, init container, ephemeral container and image volume of Pods,
Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs is checked:
its tag is resolved to a digest against its registry (a tag that does not exist
is denied), then the gates decide. /mutate also pins each image to that digest.

Examples:
  wharf admission serve --tls-cert tls.crt --tls-key tls.key \\
      --allow-registry registry.example.com --exclude-namespace kube-system
  wharf admission serve --insecure-http --listen 127.0.0.1:8080 \\
      --insecure-registry 127.0.0.1:5000 --mode audit

See docs/admission.md for the webhook configurations to install in the cluster.")]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WHARF_ADMISSION_LISTEN", default_value = "0.0.0.0:8443")]
    listen: SocketAddr,

    /// TLS certificate chain (PEM). The API server only calls webhooks over HTTPS.
    #[arg(
        long,
        env = "WHARF_ADMISSION_TLS_CERT",
        requires = "tls_key",
        required_unless_present = "insecure_http"
    )]
    tls_cert: Option<PathBuf>,

    /// TLS private key (PEM).
    #[arg(long, env = "WHARF_ADMISSION_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Serve plain HTTP instead of HTTPS (local testing only).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    insecure_http: bool,

    /// ImagePolicy files (docs/policy.md) every image is checked against, with the
    /// same evaluator as `wharf policy check`.
    #[arg(long = "policy", value_name = "FILE", num_args = 1..)]
    policies: Vec<PathBuf>,

    /// Vulnerability database for policies with vulnerability or license rules
    /// [default: $WHARF_DB, else <data dir>/wharf/vuln.db].
    #[arg(long, env = "WHARF_DB")]
    db: Option<PathBuf>,

    /// Allow only images from these registries (`ghcr.io`) or repository
    /// prefixes (`ghcr.io/acme`); other registries are never contacted.
    /// Without it, any image whose tag resolves is allowed.
    #[arg(long = "allow-registry", value_name = "HOST[/PATH]", num_args = 1..)]
    allow_registries: Vec<String>,

    /// `enforce` denies violations; `audit` allows them with warnings.
    #[arg(long, value_enum, default_value_t = ModeArg::Enforce)]
    mode: ModeArg,

    /// When an image cannot be checked in time or its registry fails:
    /// `fail` denies, `ignore` allows with a warning.
    #[arg(long, value_enum, default_value_t = FailureArg::Fail)]
    failure_policy: FailureArg,

    /// Budget for one review (`8s`, `2500ms`). Keep it below the webhook's
    /// `timeoutSeconds` (API server default 10s).
    #[arg(long, default_value = "8s", value_parser = parse_duration)]
    timeout: Duration,

    /// How long a tag's digest is reused before asking the registry again (`0s` = never).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    cache_ttl: Duration,

    /// Namespaces whose workloads are allowed without checks.
    #[arg(long = "exclude-namespace", value_name = "NAMESPACE", num_args = 1..)]
    exclude_namespaces: Vec<String>,

    /// Images allowed without checks (globs: `*`, `?`), matched as written and normalised.
    #[arg(long = "exclude-image", value_name = "GLOB", num_args = 1..)]
    exclude_images: Vec<String>,

    /// Registries spoken to over plain HTTP.
    #[arg(long = "insecure-registry", value_name = "HOST", num_args = 1..)]
    insecure_registries: Vec<String>,

    /// Extra CA certificates (PEM) to trust for HTTPS registries.
    #[arg(long = "registry-ca", value_name = "FILE", num_args = 1..)]
    registry_cas: Vec<PathBuf>,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum ModeArg {
    Enforce,
    Audit,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum FailureArg {
    Fail,
    Ignore,
}

pub fn run(args: AdmissionArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AdmissionCommand::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let ca_certs_pem = args
        .registry_cas
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut gates: Vec<Arc<dyn ImageGate>> = Vec::new();
    // The registry list first: its `check_name` refuses before any registry is contacted.
    if !args.allow_registries.is_empty() {
        gates.push(Arc::new(AllowedRegistries::new(&args.allow_registries)));
    }
    if !args.policies.is_empty() {
        let policies = PolicySet::load(&args.policies)?;
        tracing::info!(policies = policies.policies.len(), version = %policies.version, "policies loaded");
        let options = EvaluatorOptions {
            registry: PolicyRegistryOptions {
                client: wharf_oci::RegistryOptions {
                    ca_certs_pem: ca_certs_pem.clone(),
                    ..Default::default()
                },
                insecure_registries: args.insecure_registries.clone(),
            },
            db: args.db.clone(),
            cache_ttl: args.cache_ttl,
            ..Default::default()
        };
        gates.push(Arc::new(Evaluator::new(policies, options)));
    }
    let resolver = Resolver::new(ResolverOptions {
        insecure_registries: args.insecure_registries,
        cache_ttl: args.cache_ttl,
        ca_certs_pem,
        ..Default::default()
    });
    let gate: Option<Arc<dyn ImageGate>> = match gates.len() {
        0 => {
            tracing::warn!(
                "no --policy and no --allow-registry: any image whose tag resolves is allowed, and any registry a workload names is contacted"
            );
            None
        }
        1 => gates.pop(),
        _ => Some(Arc::new(AllGates(gates))),
    };
    let config = WebhookConfig {
        mode: match args.mode {
            ModeArg::Enforce => Mode::Enforce,
            ModeArg::Audit => Mode::Audit,
        },
        failure_policy: match args.failure_policy {
            FailureArg::Fail => FailurePolicy::Fail,
            FailureArg::Ignore => FailurePolicy::Ignore,
        },
        timeout: args.timeout,
        exclusions: Exclusions::new(args.exclude_namespaces, args.exclude_images),
    };
    if args.timeout >= Duration::from_secs(10) {
        tracing::warn!(
            timeout_ms = args.timeout.as_millis() as u64,
            "--timeout is not below the API server's default webhook timeout (10s): set timeoutSeconds above it"
        );
    }
    let listen = Listen {
        addr: args.listen,
        tls: args.tls_cert.zip(args.tls_key),
    };
    let webhook = Arc::new(Webhook::new(config, resolver, gate));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("wharf-admission")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(server::serve(
        webhook,
        listen,
        super::serve::shutdown_signal(),
        |_| {},
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `8s`, `2500ms`, `5m`, or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (examples: 8s, 2500ms, 5m)"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s:?}: unknown unit {unit:?} (use ms, s or m)")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("8s"), Ok(Duration::from_secs(8)));
        assert_eq!(parse_duration("2500ms"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("fast").is_err() && parse_duration("3h").is_err());
    }
}
