//! `wharf retention show|set|run|executions`: a project's tag retention policy.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Client, Target};
use super::immutable::created_id;
use super::{Output, print_rows, runtime};

#[derive(Subcommand, Debug)]
pub enum RetentionCmd {
    /// Show the project's policy.
    Show {
        project: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Set (create or replace) the project's policy: artifacts no rule keeps are deleted.
    #[command(
        after_help = "Rules: latestPushedK=N, latestPulledN=N, nDaysSinceLastPush=N, nDaysSinceLastPull=N, always.\nEvery --rule uses the same --tags/--repos/--with-labels/--without-labels selectors; rules OR-combine.\n\nExamples:\n  wharf retention set team --rule latestPushedK=10\n  wharf retention set team --rule latestPushedK=3 --with-labels prod\n  wharf retention set team --rule nDaysSinceLastPull=30 --rule latestPushedK=3 --tags 'v*' --untagged\n  wharf retention set team --rule latestPushedK=5 --cron '0 0 3 * * *'"
    )]
    Set {
        project: String,
        /// TEMPLATE[=N]; repeat for several rules.
        #[arg(long = "rule", required = true)]
        rules: Vec<String>,
        /// Tag pattern (doublestar) the rules look at.
        #[arg(long, default_value = "**")]
        tags: String,
        /// Repository pattern (within the project) the rules apply to.
        #[arg(long, default_value = "**")]
        repos: String,
        /// Untagged artifacts are candidates too.
        #[arg(long)]
        untagged: bool,
        /// Only artifacts carrying every one of these labels (comma-separated names).
        #[arg(long, value_name = "NAMES")]
        with_labels: Option<String>,
        /// Only artifacts carrying none of these labels (comma-separated names).
        #[arg(long, value_name = "NAMES")]
        without_labels: Option<String>,
        /// Run on this 6-field cron (sec min hour day month weekday); manual only without it.
        #[arg(long, default_value = "")]
        cron: String,
    },
    /// Run the policy now.
    Run {
        project: String,
        /// Decide and log, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The policy's runs, newest first.
    Executions {
        project: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

#[derive(Args, Debug)]
pub struct RetentionArgs {
    #[command(subcommand)]
    cmd: RetentionCmd,
    #[command(flatten)]
    target: Target,
}

/// A rule's selectors, shared by every `--rule`.
struct Selectors<'a> {
    tags: &'a str,
    repos: &'a str,
    untagged: bool,
    with_labels: Option<&'a str>,
    without_labels: Option<&'a str>,
}

/// `latestPushedK=3` → Harbor's rule.
fn rule(spec: &str, sel: &Selectors) -> anyhow::Result<Value> {
    let (template, n) = match spec.split_once('=') {
        Some((t, n)) => (
            t,
            Some(
                n.parse::<i64>()
                    .map_err(|_| anyhow!("{spec:?}: N must be a number"))?,
            ),
        ),
        None => (spec, None),
    };
    let params = match n {
        Some(n) => json!({template: n}),
        None if template == "always" => json!({}),
        None => bail!("{spec:?}: give the rule's number, as {template}=N"),
    };
    let mut tag_selectors = vec![
        json!({"kind": "doublestar", "decoration": "matches", "pattern": sel.tags,
                                        "extras": json!({"untagged": sel.untagged}).to_string()}),
    ];
    for (decoration, names) in [
        ("withLabels", sel.with_labels),
        ("withoutLabels", sel.without_labels),
    ] {
        if let Some(names) = names {
            tag_selectors
                .push(json!({"kind": "label", "decoration": decoration, "pattern": names}));
        }
    }
    Ok(json!({
        "disabled": false, "action": "retain", "template": template, "params": params,
        "tag_selectors": tag_selectors,
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": sel.repos}]},
    }))
}

/// (project id, its policy id if it has one).
async fn project_policy(c: &Client, project: &str) -> anyhow::Result<(i64, Option<i64>)> {
    let p = c
        .json(Method::GET, &format!("/projects/{project}"), None)
        .await?;
    let id = p["project_id"]
        .as_i64()
        .ok_or_else(|| anyhow!("project {project} has no id"))?;
    let policy = p["metadata"]["retention_id"]
        .as_str()
        .and_then(|s| s.parse().ok());
    Ok((id, policy))
}

async fn policy_of(c: &Client, project: &str) -> anyhow::Result<i64> {
    project_policy(c, project)
        .await?
        .1
        .ok_or_else(|| anyhow!("project {project} has no retention policy (wharf retention set)"))
}

pub fn retention(args: RetentionArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            RetentionCmd::Show { project, output } => {
                let id = policy_of(&c, &project).await?;
                let p = c.json(Method::GET, &format!("/retentions/{id}"), None).await?;
                match output {
                    Output::Json => println!("{}", serde_json::to_string_pretty(&p)?),
                    Output::Table => {
                        let cron = p["trigger"]["settings"]["cron"].as_str().unwrap_or_default();
                        println!("retention policy {id} of {project} (schedule: {})", if cron.is_empty() { "manual" } else { cron });
                        let rows: Vec<Value> = p["rules"].as_array().into_iter().flatten().map(|r| {
                            let n = r["params"].as_object().and_then(|m| m.values().next()).map(|v| v.to_string()).unwrap_or_default();
                            json!({"id": r["id"], "template": r["template"], "n": n, "disabled": r["disabled"],
                                   "tags": r["tag_selectors"][0]["pattern"], "repos": r["scope_selectors"]["repository"][0]["pattern"]})
                        }).collect();
                        print_rows(output, &rows, &[("RULE", "/id"), ("TEMPLATE", "/template"), ("N", "/n"), ("TAGS", "/tags"), ("REPOSITORIES", "/repos"), ("DISABLED", "/disabled")]);
                    }
                }
            }
            RetentionCmd::Set { project, rules, tags, repos, untagged, with_labels, without_labels, cron } => {
                let (pid, existing) = project_policy(&c, &project).await?;
                let sel = Selectors {
                    tags: &tags,
                    repos: &repos,
                    untagged,
                    with_labels: with_labels.as_deref(),
                    without_labels: without_labels.as_deref(),
                };
                let rules = rules.iter().map(|r| rule(r, &sel)).collect::<anyhow::Result<Vec<_>>>()?;
                let body = json!({"algorithm": "or", "rules": rules,
                    "trigger": {"kind": "Schedule", "settings": {"cron": cron}},
                    "scope": {"level": "project", "ref": pid}});
                match existing {
                    Some(id) => {
                        c.call(Method::PUT, &format!("/retentions/{id}"), Some(&body)).await?;
                        println!("updated retention policy {id} of {project}");
                    }
                    None => {
                        c.call(Method::POST, "/retentions", Some(&body)).await?;
                        println!("created the retention policy of {project}");
                    }
                }
            }
            RetentionCmd::Run { project, dry_run } => {
                let id = policy_of(&c, &project).await?;
                let resp = c
                    .call(Method::POST, &format!("/retentions/{id}/executions"), Some(&json!({"dry_run": dry_run})))
                    .await?;
                let eid = created_id(&resp);
                println!("started retention execution {eid}{} of {project}", if dry_run { " (dry run)" } else { "" });
            }
            RetentionCmd::Executions { project, output } => {
                let id = policy_of(&c, &project).await?;
                let items = c.json(Method::GET, &format!("/retentions/{id}/executions?page_size=100"), None).await?;
                let items = items.as_array().cloned().unwrap_or_default();
                print_rows(output, &items, &[("ID", "/id"), ("STATUS", "/status"), ("TRIGGER", "/trigger"), ("DRY RUN", "/dry_run"), ("STARTED", "/start_time"), ("ENDED", "/end_time")]);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
