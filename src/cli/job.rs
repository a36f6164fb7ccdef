//! `wharf job list|show|log|stop|retry`: the registry's durable job queue (GC,
//! scrub, retention, scan-all runs), and waiting for a job, which `wharf gc run`
//! and `wharf scrub` share.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::manage::client::{Client, Target};
use super::manage::{Output, print_rows, runtime};

#[derive(Subcommand, Debug)]
pub enum JobCmd {
    /// Jobs, newest first.
    List {
        /// Only this kind (gc, scrub, retention, scan_all, …).
        #[arg(long)]
        kind: Option<String>,
        /// Only this status (Pending, Running, Success, Error, Stopped).
        #[arg(long)]
        status: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// One job: status, attempts, parameters, result.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// A job's log.
    Log { id: i64 },
    /// Stop a pending or running job.
    Stop { id: i64 },
    /// Run a job that ended in Error or Stopped again.
    Retry { id: i64 },
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wharf job list --kind gc --status Error\n  wharf job log 12\n  wharf job retry 12"
)]
pub struct JobArgs {
    #[command(subcommand)]
    cmd: JobCmd,
    #[command(flatten)]
    target: Target,
}

pub const JOB_COLUMNS: &[(&str, &str)] = &[
    ("ID", "/id"),
    ("KIND", "/kind"),
    ("STATUS", "/status"),
    ("TRIGGER", "/trigger"),
    ("ATTEMPTS", "/attempts"),
    ("CREATED", "/creation_time"),
    ("ENDED", "/end_time"),
];

fn print_job(output: Output, job: &Value) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(job)?),
        Output::Table => {
            for key in [
                "id",
                "kind",
                "status",
                "trigger",
                "attempts",
                "max_attempts",
                "creation_time",
                "start_time",
                "end_time",
                "message",
            ] {
                match &job[key] {
                    Value::Null => {}
                    Value::String(s) => println!("{key:<14} {s}"),
                    v => println!("{key:<14} {v}"),
                }
            }
            println!("{:<14} {}", "parameters", job["parameters"]);
            if let Some(result) = job["result"].as_object() {
                for (k, v) in result {
                    println!("  {k:<26} {v}");
                }
            }
        }
    }
    Ok(())
}

/// The job id at the end of a `Location` header (`…/system/gc/12` → 12).
pub fn created_id(resp: &reqwest::Response) -> anyhow::Result<i64> {
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .context("the server did not say where the new job is (no Location header)")?;
    location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .with_context(|| format!("no job id in Location {location:?}"))
}

/// Poll the job until it ends; its final state.
pub async fn wait(c: &Client, id: i64) -> anyhow::Result<Value> {
    let mut delay = Duration::from_millis(200);
    loop {
        let job = c.json(Method::GET, &format!("/jobs/{id}"), None).await?;
        match job["status"].as_str() {
            Some("Success" | "Error" | "Stopped") => return Ok(job),
            Some(_) => {}
            None => bail!("job {id}: the server's answer has no status"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Print a finished job; an error unless it succeeded.
pub fn report(output: Output, job: &Value, columns: &[(&str, &str)]) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(job)?),
        Output::Table => print_rows(output, std::slice::from_ref(job), columns),
    }
    match job["status"].as_str() {
        Some("Success") => Ok(()),
        Some(status) => bail!(
            "job {} ended {status}{}",
            job["id"],
            job["message"]
                .as_str()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        None => bail!("job {} has no status", job["id"]),
    }
}

pub fn run(args: JobArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            JobCmd::List {
                kind,
                status,
                output,
            } => {
                let mut path = "/jobs?page_size=100".to_string();
                for (k, v) in [("kind", kind), ("status", status)] {
                    if let Some(v) = v {
                        path.push_str(&format!("&{k}={}", urlencode(&v)));
                    }
                }
                let items = c.json(Method::GET, &path, None).await?;
                print_rows(
                    output,
                    items.as_array().map(Vec::as_slice).unwrap_or_default(),
                    JOB_COLUMNS,
                );
            }
            JobCmd::Show { id, output } => {
                print_job(
                    output,
                    &c.json(Method::GET, &format!("/jobs/{id}"), None).await?,
                )?;
            }
            JobCmd::Log { id } => {
                let text = c
                    .call(Method::GET, &format!("/jobs/{id}/log"), None)
                    .await?
                    .text()
                    .await?;
                print!("{text}");
            }
            JobCmd::Stop { id } => {
                let job = c
                    .json(
                        Method::PUT,
                        &format!("/jobs/{id}"),
                        Some(&json!({"status": "Stopped"})),
                    )
                    .await?;
                println!(
                    "job {id}: {}",
                    if job["status"] == "Stopped" {
                        "stopped"
                    } else {
                        "stopping"
                    }
                );
            }
            JobCmd::Retry { id } => {
                c.call(Method::POST, &format!("/jobs/{id}/retry"), None)
                    .await?;
                println!("job {id} queued again");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Query values are job kinds and status words; escape anything else.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
