//! `wharf policy check` (the CI gate) and `wharf policy validate`. Parsing and printing
//! only; loading, collecting and evaluating are in `wharf_policy`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use wharf_policy::{Decision, Evaluator, EvaluatorOptions, PolicySet};

use super::registry_args::RegistryArgs;

/// Exit code when a policy denied an image.
const EXIT_DENIED: u8 = 1;

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Check images against policies: exit 0 when every image is allowed, 1 when any is denied.
    Check(Box<CheckArgs>),
    /// Validate policy files: exit 0 when all are valid, 2 (with file and path) when not.
    Validate {
        /// Policy files (YAML, `apiVersion: wharf.dev/v1`, `kind: ImagePolicy`).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Sarif,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  wharf policy check --policy prod.yaml registry.company.com/production/app:v1
  wharf policy check --policy prod.yaml --format sarif -o policy.sarif IMAGE
  wharf policy check --policy prod.yaml --warn IMAGE      # report, never fail
  wharf policy check --policy deps.yaml --facts facts.json  # a facts document, as it is

The policy format, the facts document and the decision JSON are in docs/policy.md.")]
pub struct CheckArgs {
    /// Policy file (repeatable; a file may hold several YAML documents).
    #[arg(long = "policy", short = 'p', required = true)]
    policies: Vec<PathBuf>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Write the report to a file instead of stdout.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,

    /// Report denials without failing (exit 0).
    #[arg(long)]
    warn: bool,

    /// Vulnerability database [default: $WHARF_DB, else <data dir>/wharf/vuln.db].
    #[arg(long, env = "WHARF_DB")]
    db: Option<PathBuf>,

    /// Platform to pick from a multi-platform image, as os/arch[/variant].
    #[arg(long)]
    platform: Option<String>,

    #[command(flatten)]
    registry: RegistryArgs,

    /// Judge a facts document (JSON, the format in docs/policy.md) instead of collecting
    /// facts from a registry: for subjects that are not images, such as a build's own
    /// dependencies with their licences (repeatable).
    #[arg(long = "facts", value_name = "FILE", conflicts_with = "images")]
    facts: Vec<PathBuf>,

    /// Images to check (tags are resolved to digests first).
    #[arg(required_unless_present = "facts")]
    images: Vec<String>,
}

pub fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Check(args) => check(*args),
        PolicyCommand::Validate { files } => {
            let set = PolicySet::load(&files)?;
            for p in &set.policies {
                eprintln!(
                    "{}: policy {:?} is valid ({} rules)",
                    p.file,
                    p.metadata.name,
                    p.spec.rules.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Facts documents judged as they are: nothing is collected, so the decision is
/// `wharf_policy::evaluate`'s on exactly what the file says.
fn decide_facts(policies: &PolicySet, files: &[PathBuf]) -> anyhow::Result<Vec<Decision>> {
    let now = chrono::Utc::now().timestamp();
    files
        .iter()
        .map(|f| {
            let text =
                std::fs::read(f).with_context(|| format!("reading facts {}", f.display()))?;
            let facts: wharf_policy::Facts = serde_json::from_slice(&text)
                .with_context(|| format!("parsing facts {}", f.display()))?;
            Ok(wharf_policy::evaluate(policies, &facts, now))
        })
        .collect()
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let policies = PolicySet::load(&args.policies)?;
    if !args.facts.is_empty() {
        let decisions = decide_facts(&policies, &args.facts)?;
        return report(&args, &decisions);
    }
    let evaluator = Arc::new(Evaluator::new(
        policies,
        EvaluatorOptions {
            registry: wharf_policy::RegistryOptions {
                client: args.registry.options()?,
                insecure_registries: Vec::new(),
            },
            db: args.db.clone(),
            platform: args.platform.clone(),
            ..Default::default()
        },
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let decisions = rt.block_on(async {
        let mut out = Vec::new();
        for image in &args.images {
            let d = evaluator
                .check(image)
                .await
                .with_context(|| format!("checking {image}"))?;
            out.push(d);
        }
        anyhow::Ok(out)
    })?;
    report(&args, &decisions)
}

/// Print the decisions; exit 1 when any denies (unless `--warn`).
fn report(args: &CheckArgs, decisions: &[Decision]) -> anyhow::Result<ExitCode> {
    let allowed = decisions.iter().all(|d| d.allowed);
    let colour = args.output.is_none() && std::io::stdout().is_terminal();
    let text = match args.format {
        Format::Table => table(decisions, colour),
        Format::Json => {
            serde_json::to_string_pretty(&json!({"allowed": allowed, "decisions": decisions}))?
        }
        Format::Sarif => serde_json::to_string_pretty(&sarif(decisions, args.warn))?,
    };
    match &args.output {
        Some(p) => std::fs::write(p, text.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                out.write_all(b"\n")?;
            }
        }
    }
    for d in decisions.iter().filter(|d| d.results.is_empty()) {
        eprintln!("note: no policy covers {}; allowed by default", d.image);
    }
    if allowed {
        return Ok(ExitCode::SUCCESS);
    }
    let denied: Vec<&str> = decisions
        .iter()
        .filter(|d| !d.allowed)
        .map(|d| d.image.as_str())
        .collect();
    if args.warn {
        eprintln!(
            "warning: denied by policy (--warn: not failing): {}",
            denied.join(", ")
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: denied by policy: {}", denied.join(", "));
        Ok(ExitCode::from(EXIT_DENIED))
    }
}

/// One block per image: a verdict line, then one row per rule.
fn table(decisions: &[Decision], colour: bool) -> String {
    let paint = |s: &str, code: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for d in decisions {
        let verdict = if d.allowed {
            paint("ALLOWED", "32")
        } else {
            paint("DENIED", "31")
        };
        out.push_str(&format!("{} ({})  {verdict}\n", d.image, d.digest));
        if d.results.is_empty() {
            out.push_str("  no policy covers this image\n\n");
            continue;
        }
        let wp = d
            .results
            .iter()
            .map(|r| r.policy.len())
            .max()
            .unwrap_or(0)
            .max(6);
        let wr = d
            .results
            .iter()
            .map(|r| r.rule.len())
            .max()
            .unwrap_or(0)
            .max(4);
        out.push_str(&format!(
            "  {:<wp$}  {:<wr$}  {:<6}  MESSAGE\n",
            "POLICY", "RULE", "RESULT"
        ));
        for r in &d.results {
            let result = if r.passed {
                paint("pass  ", "32")
            } else {
                paint("FAIL  ", "31")
            };
            out.push_str(&format!(
                "  {:<wp$}  {:<wr$}  {result}  {}\n",
                r.policy, r.rule, r.message
            ));
        }
        out.push('\n');
    }
    out
}

/// SARIF 2.1.0: one reporting rule per policy rule, one result per evaluated rule
/// (`kind: pass` or `fail`), located in the policy file, with the image and evidence.
fn sarif(decisions: &[Decision], warn: bool) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let mut results = Vec::new();
    for d in decisions {
        for r in &d.results {
            let id = format!("{}/{}", r.policy, r.rule);
            let index = match ids.iter().position(|x| *x == id) {
                Some(i) => i,
                None => {
                    ids.push(id.clone());
                    rules.push(json!({
                        "id": id,
                        "name": r.rule,
                        "shortDescription": {"text": format!("policy {} rule {}", r.policy, r.rule)},
                    }));
                    ids.len() - 1
                }
            };
            results.push(json!({
                "ruleId": id,
                "ruleIndex": index,
                "kind": if r.passed { "pass" } else { "fail" },
                "level": if r.passed { "none" } else if warn { "warning" } else { "error" },
                "message": {"text": format!("{}: {}", d.image, r.message)},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": r.file}},
                    "logicalLocations": [{"name": d.image, "fullyQualifiedName": format!("{}@{}", d.image, d.digest), "kind": "resource"}],
                }],
                "properties": {"image": d.image, "digest": d.digest, "policyVersion": d.policy_version, "evidence": r.evidence},
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "wharf-policy",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
