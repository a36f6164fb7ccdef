//! `wharf gc run|history|schedule`: garbage collection through Harbor's
//! `/system/gc` API; `wharf scrub`: re-hash every blob and manifest.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::job;
use super::manage::client::{Client, Target};
use super::manage::{Output, print_rows, runtime};

#[derive(Subcommand, Debug)]
pub enum GcCmd {
    /// Run garbage collection now, wait for it, print what it deleted.
    Run {
        /// Report what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete manifests no tag keeps alive (with their accessories).
        #[arg(long)]
        delete_untagged: bool,
        /// Keep what was used within this time (30s, 10m, 1h, 2d) [default: the server's].
        #[arg(long, value_parser = parse_duration)]
        grace_period: Option<Duration>,
        /// Print the job id and return without waiting.
        #[arg(long)]
        no_wait: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Past runs, newest first.
    History {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Show the schedule, or set it (a cron, a type, or --none).
    Schedule {
        /// Harbor's 6-field cron (sec min hour day month weekday), e.g. "0 0 2 * * *".
        #[arg(long, conflicts_with_all = ["every", "none"])]
        cron: Option<String>,
        /// hourly, daily or weekly.
        #[arg(long, value_parser = ["hourly", "daily", "weekly"], conflicts_with = "none")]
        every: Option<String>,
        /// Remove the schedule.
        #[arg(long)]
        none: bool,
        /// Scheduled runs also delete untagged manifests.
        #[arg(long)]
        delete_untagged: bool,
        #[arg(long, value_parser = parse_duration)]
        grace_period: Option<Duration>,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wharf gc run --dry-run --delete-untagged\n  wharf gc run --grace-period 10m\n  wharf gc schedule --cron \"0 0 2 * * *\" --delete-untagged\n  wharf gc history"
)]
pub struct GcArgs {
    #[command(subcommand)]
    cmd: GcCmd,
    #[command(flatten)]
    target: Target,
}

/// `30s`, `10m`, `1h`, `2d`, or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (examples: 30s, 10m, 1h, 2d)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use s, m, h or d)")),
    };
    Ok(Duration::from_secs(secs))
}

fn gc_params(delete_untagged: bool, dry_run: bool, grace: Option<Duration>) -> Value {
    let mut p = json!({"delete_untagged": delete_untagged, "dry_run": dry_run});
    if let Some(g) = grace {
        p["grace_period_seconds"] = json!(g.as_secs());
    }
    p
}

const RESULT_COLUMNS: &[(&str, &str)] = &[
    ("ID", "/id"),
    ("STATUS", "/status"),
    ("DRY RUN", "/result/dry_run"),
    ("MANIFESTS", "/result/manifests_deleted"),
    ("BLOBS", "/result/blobs_deleted"),
    ("BYTES FREED", "/result/bytes_freed"),
];

pub fn run(args: GcArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            GcCmd::Run {
                dry_run,
                delete_untagged,
                grace_period,
                no_wait,
                output,
            } => {
                let body = json!({"schedule": {"type": "Manual"},
                    "parameters": gc_params(delete_untagged, dry_run, grace_period)});
                let resp = c
                    .call(Method::POST, "/system/gc/schedule", Some(&body))
                    .await?;
                let id = job::created_id(&resp)?;
                if no_wait {
                    println!("{id}");
                    return Ok(ExitCode::SUCCESS);
                }
                let done = job::wait(&c, id).await?;
                job::report(output, &done, RESULT_COLUMNS)?;
            }
            GcCmd::History { output } => {
                let items = c
                    .json(Method::GET, "/system/gc?page_size=100", None)
                    .await?;
                print_rows(
                    output,
                    items.as_array().map(Vec::as_slice).unwrap_or_default(),
                    &[
                        ("ID", "/id"),
                        ("STATUS", "/job_status"),
                        ("TRIGGER", "/job_kind"),
                        ("CREATED", "/creation_time"),
                        ("UPDATED", "/update_time"),
                        ("PARAMETERS", "/job_parameters"),
                    ],
                );
            }
            GcCmd::Schedule {
                cron,
                every,
                none,
                delete_untagged,
                grace_period,
                output,
            } => {
                let schedule = match (cron, every, none) {
                    (Some(cron), _, _) => Some(json!({"type": "Custom", "cron": cron})),
                    (_, Some(every), _) => {
                        let mut t = every.clone();
                        t[..1].make_ascii_uppercase();
                        Some(json!({"type": t}))
                    }
                    (_, _, true) => Some(json!({"type": "None"})),
                    _ => None,
                };
                if let Some(schedule) = schedule {
                    let body = json!({"schedule": schedule,
                        "parameters": gc_params(delete_untagged, false, grace_period)});
                    c.call(Method::PUT, "/system/gc/schedule", Some(&body))
                        .await?;
                }
                let s = c.json(Method::GET, "/system/gc/schedule", None).await?;
                match output {
                    Output::Json => println!("{}", serde_json::to_string_pretty(&s)?),
                    Output::Table => {
                        println!(
                            "type        {}",
                            s["schedule"]["type"].as_str().unwrap_or("None")
                        );
                        println!(
                            "cron        {}",
                            s["schedule"]["cron"].as_str().unwrap_or("")
                        );
                        println!(
                            "next run    {}",
                            s["schedule"]["next_scheduled_time"].as_str().unwrap_or("-")
                        );
                        println!("parameters  {}", s["parameters"]);
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Re-hash every stored blob and manifest on the server.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit status: 0 all content matches its digests, 1 corrupt content was found, 2 error.\n\nExamples:\n  wharf scrub\n  wharf scrub --quarantine --output json"
)]
pub struct ScrubArgs {
    /// Move corrupt blobs aside so they are no longer served (the next push uploads them again).
    #[arg(long)]
    quarantine: bool,
    /// Print the job id and return without waiting.
    #[arg(long)]
    no_wait: bool,
    #[arg(long, value_enum, default_value_t)]
    output: Output,
    #[command(flatten)]
    target: Target,
}

pub fn scrub(args: ScrubArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        let resp = c
            .call(
                Method::POST,
                "/system/scrub",
                Some(&json!({"quarantine": args.quarantine})),
            )
            .await?;
        let id = job::created_id(&resp)?;
        if args.no_wait {
            println!("{id}");
            return Ok(ExitCode::SUCCESS);
        }
        let done = job::wait(&c, id).await?;
        job::report(
            args.output,
            &done,
            &[
                ("ID", "/id"),
                ("STATUS", "/status"),
                ("BLOBS", "/result/blobs_checked"),
                ("BYTES", "/result/bytes_checked"),
                ("MANIFESTS", "/result/manifests_checked"),
                ("QUARANTINED", "/result/quarantined"),
            ],
        )?;
        let corrupt = done["result"]["corrupt"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if corrupt.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        if let Output::Table = args.output {
            for item in &corrupt {
                let repos: Vec<&str> = item["repositories"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                eprintln!(
                    "corrupt {} {}: {} (used by {})",
                    item["kind"].as_str().unwrap_or("?"),
                    item["digest"].as_str().unwrap_or("?"),
                    item["problem"].as_str().unwrap_or("?"),
                    if repos.is_empty() {
                        "nothing".to_string()
                    } else {
                        repos.join(", ")
                    }
                );
            }
        }
        Ok(ExitCode::from(1))
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("h").is_err());
    }
}
