//! `wharf quota get|set`: a project's storage quota.

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

use super::client::{Client, Target};
use super::{Output, print_rows, runtime};

#[derive(Subcommand, Debug)]
pub enum QuotaCmd {
    /// Show a project's limit and usage (bytes; -1: unlimited).
    Get {
        project: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Set a project's storage limit (system administrators).
    #[command(
        after_help = "Examples:\n  wharf quota set team 10GiB\n  wharf quota set team 500000000\n  wharf quota set team -1   # unlimited"
    )]
    Set {
        project: String,
        /// Bytes, with an optional unit (KB MB GB TB, KiB MiB GiB TiB), or -1 for unlimited.
        #[arg(allow_negative_numbers = true)]
        limit: String,
    },
}

#[derive(Args, Debug)]
pub struct QuotaArgs {
    #[command(subcommand)]
    cmd: QuotaCmd,
    #[command(flatten)]
    target: Target,
}

/// `10GiB` → bytes; `-1` stays -1.
pub fn parse_size(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    if s == "-1" {
        return Ok(-1);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().with_context(|| format!("{s:?} is not a size"))?;
    let mult: i64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => return Err(anyhow!("unknown unit {other:?} in {s:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| anyhow!("{s:?} is too large"))
}

pub fn quota(args: QuotaArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            QuotaCmd::Get { project, output } => {
                let s = c.json(Method::GET, &format!("/projects/{project}/summary"), None).await?;
                let row = json!({"project": project, "hard": s["quota"]["hard"]["storage"], "used": s["quota"]["used"]["storage"]});
                print_rows(output, &[row], &[("PROJECT", "/project"), ("LIMIT", "/hard"), ("USED", "/used")]);
            }
            QuotaCmd::Set { project, limit } => {
                let hard = parse_size(&limit)?;
                let p = c.json(Method::GET, &format!("/projects/{project}"), None).await?;
                let id = p["project_id"].as_i64().ok_or_else(|| anyhow!("project {project} has no id"))?;
                c.call(Method::PUT, &format!("/quotas/{id}"), Some(&json!({"hard": {"storage": hard}})))
                    .await?;
                println!("storage limit of {project}: {hard} bytes");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(super::parse_size("-1").unwrap(), -1);
        assert_eq!(super::parse_size("1024").unwrap(), 1024);
        assert_eq!(super::parse_size("10GiB").unwrap(), 10 * 1024 * 1024 * 1024);
        assert_eq!(super::parse_size("3 MB").unwrap(), 3_000_000);
        assert!(super::parse_size("3 parsecs").is_err());
        assert!(super::parse_size("-5").is_err());
    }
}
