//! `wharf replication policy add|list|remove`: Harbor's replication policies;
//! `wharf replication run|executions|tasks|log|stop`: their runs.

use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

use super::manage::client::{Client, Target};
use super::manage::{Output, created_id, print_rows, runtime};

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum TriggerKind {
    Manual,
    Scheduled,
    EventBased,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Add a policy: push to an endpoint (--to) or pull from one (--from).
    #[command(
        after_help = "Patterns are doublestar globs: * within a segment, ** across '/'.\n\nExamples:\n  wharf replication policy add to-airgap --to 1 --repos 'production/**' --tags 'v*' --trigger scheduled --cron '0 0 * * * *'\n  wharf replication policy add mirror-in --from 2 --repos 'library/*' --dest-namespace mirror"
    )]
    Add {
        name: String,
        /// Registry endpoint id to push to.
        #[arg(long, conflicts_with = "from", required_unless_present = "from")]
        to: Option<i64>,
        /// Registry endpoint id to pull from.
        #[arg(long)]
        from: Option<i64>,
        /// Repository name pattern (name filter).
        #[arg(long)]
        repos: Option<String>,
        /// Tag pattern (tag filter).
        #[arg(long)]
        tags: Option<String>,
        /// Copy the tags that do NOT match --tags.
        #[arg(long, requires = "tags")]
        exclude_tags: bool,
        #[arg(long, value_enum, default_value = "manual")]
        trigger: TriggerKind,
        /// Six-field cron (sec min hour day month weekday) of --trigger scheduled.
        #[arg(long)]
        cron: Option<String>,
        /// Namespace at the destination (default: the source's).
        #[arg(long)]
        dest_namespace: Option<String>,
        /// Leading path components dropped at the destination (-1: all but the last).
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        flatten: i64,
        /// Replicate deletions too.
        #[arg(long)]
        deletion: bool,
        /// Overwrite a destination tag that names another digest.
        #[arg(long)]
        r#override: bool,
        /// KiB/s per task (-1: unlimited).
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        speed: i64,
        /// Store the policy switched off.
        #[arg(long)]
        disabled: bool,
    },
    /// The policies.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Remove a policy by id.
    Remove { id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum ReplicationCmd {
    /// Replication policies: add, list, remove.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Run a policy now (by id or name); prints the execution id.
    Run {
        policy: String,
        /// Wait for the run to end; exit 1 unless it succeeded.
        #[arg(long)]
        wait: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Runs, newest first.
    Executions {
        /// Only this policy's (id or name).
        #[arg(long)]
        policy: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 20)]
        page_size: u32,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// A run's tasks: one per artifact.
    Tasks {
        execution: i64,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// A task's log.
    Log { execution: i64, task: i64 },
    /// Stop a run: tasks not yet done end Stopped.
    Stop { execution: i64 },
}

const EXECUTION_COLUMNS: &[(&str, &str)] = &[
    ("ID", "/id"),
    ("POLICY", "/policy_id"),
    ("STATUS", "/status"),
    ("TRIGGER", "/trigger"),
    ("TOTAL", "/total"),
    ("SUCCEED", "/succeed"),
    ("FAILED", "/failed"),
    ("STOPPED", "/stopped"),
    ("STARTED", "/start_time"),
    ("ENDED", "/end_time"),
];

/// A policy's id from its id or name.
async fn policy_id(c: &Client, policy: &str) -> anyhow::Result<i64> {
    if let Ok(id) = policy.parse() {
        return Ok(id);
    }
    let all = c.json(Method::GET, "/replication/policies", None).await?;
    all.as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == policy)
        .and_then(|p| p["id"].as_i64())
        .ok_or_else(|| anyhow::anyhow!("no replication policy named {policy:?}"))
}

#[derive(Args, Debug)]
pub struct ReplicationArgs {
    #[command(subcommand)]
    cmd: ReplicationCmd,
    #[command(flatten)]
    target: Target,
}

pub fn run(args: ReplicationArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    let cmd = match args.cmd {
        ReplicationCmd::Policy(cmd) => cmd,
        other => return runtime()?.block_on(runs(&c, other)),
    };
    runtime()?.block_on(async {
        match cmd {
            PolicyCmd::Add {
                name,
                to,
                from,
                repos,
                tags,
                exclude_tags,
                trigger,
                cron,
                dest_namespace,
                flatten,
                deletion,
                r#override,
                speed,
                disabled,
            } => {
                let mut filters: Vec<Value> = Vec::new();
                if let Some(p) = repos {
                    filters.push(json!({"type": "name", "value": p}));
                }
                if let Some(p) = tags {
                    let decoration = if exclude_tags { "excludes" } else { "matches" };
                    filters.push(json!({"type": "tag", "value": p, "decoration": decoration}));
                }
                let trigger = match (trigger, cron) {
                    (TriggerKind::Scheduled, Some(cron)) => {
                        json!({"type": "scheduled", "trigger_settings": {"cron": cron}})
                    }
                    (TriggerKind::Scheduled, None) => bail!("--trigger scheduled needs --cron"),
                    (_, Some(_)) => bail!("--cron goes with --trigger scheduled"),
                    (TriggerKind::Manual, None) => json!({"type": "manual"}),
                    (TriggerKind::EventBased, None) => json!({"type": "event_based"}),
                };
                let side = |id: Option<i64>| id.map_or(Value::Null, |id| json!({"id": id}));
                let body = json!({
                    "name": name, "src_registry": side(from), "dest_registry": side(to),
                    "filters": filters, "trigger": trigger,
                    "dest_namespace": dest_namespace.unwrap_or_default(),
                    "dest_namespace_replace_count": flatten, "deletion": deletion,
                    "override": r#override, "speed": speed, "enabled": !disabled,
                });
                let resp = c
                    .call(Method::POST, "/replication/policies", Some(&body))
                    .await?;
                println!("added replication policy {} ({name})", created_id(&resp));
            }
            PolicyCmd::List { output } => {
                let items = c.json(Method::GET, "/replication/policies", None).await?;
                let items = items.as_array().cloned().unwrap_or_default();
                print_rows(
                    output,
                    &items,
                    &[
                        ("ID", "/id"),
                        ("NAME", "/name"),
                        ("FROM", "/src_registry/id"),
                        ("TO", "/dest_registry/id"),
                        ("TRIGGER", "/trigger/type"),
                        ("ENABLED", "/enabled"),
                    ],
                );
            }
            PolicyCmd::Remove { id } => {
                c.call(Method::DELETE, &format!("/replication/policies/{id}"), None)
                    .await?;
                println!("removed replication policy {id}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn runs(c: &Client, cmd: ReplicationCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ReplicationCmd::Policy(_) => unreachable!("handled by run"),
        ReplicationCmd::Run {
            policy,
            wait,
            output,
        } => {
            let id = policy_id(c, &policy).await?;
            let resp = c
                .call(
                    Method::POST,
                    "/replication/executions",
                    Some(&json!({"policy_id": id})),
                )
                .await?;
            let execution = created_id(&resp);
            if !wait {
                println!("started replication execution {execution} of policy {id}");
                return Ok(ExitCode::SUCCESS);
            }
            loop {
                let e = c
                    .json(
                        Method::GET,
                        &format!("/replication/executions/{execution}"),
                        None,
                    )
                    .await?;
                if e["status"] != "InProgress" {
                    print_rows(output, std::slice::from_ref(&e), EXECUTION_COLUMNS);
                    return Ok(if e["status"] == "Succeed" {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
        ReplicationCmd::Executions {
            policy,
            page,
            page_size,
            output,
        } => {
            let mut path = format!("/replication/executions?page={page}&page_size={page_size}");
            if let Some(p) = policy {
                path.push_str(&format!("&policy_id={}", policy_id(c, &p).await?));
            }
            let items = c.json(Method::GET, &path, None).await?;
            print_rows(
                output,
                items.as_array().map(Vec::as_slice).unwrap_or_default(),
                EXECUTION_COLUMNS,
            );
        }
        ReplicationCmd::Tasks {
            execution,
            page,
            page_size,
            output,
        } => {
            let items = c
                .json(
                    Method::GET,
                    &format!(
                        "/replication/executions/{execution}/tasks?page={page}&page_size={page_size}"
                    ),
                    None,
                )
                .await?;
            print_rows(
                output,
                items.as_array().map(Vec::as_slice).unwrap_or_default(),
                &[
                    ("ID", "/id"),
                    ("OPERATION", "/operation"),
                    ("SOURCE", "/src_resource"),
                    ("DESTINATION", "/dst_resource"),
                    ("STATUS", "/status"),
                    ("BYTES", "/bytes"),
                    ("SECONDS", "/duration"),
                    ("MESSAGE", "/message"),
                ],
            );
        }
        ReplicationCmd::Log { execution, task } => {
            let resp = c
                .call(
                    Method::GET,
                    &format!("/replication/executions/{execution}/tasks/{task}/log"),
                    None,
                )
                .await?;
            print!("{}", resp.text().await?);
        }
        ReplicationCmd::Stop { execution } => {
            c.call(
                Method::PUT,
                &format!("/replication/executions/{execution}"),
                Some(&json!({})),
            )
            .await?;
            println!("stopping replication execution {execution}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
