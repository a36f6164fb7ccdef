//! `wharf role list|create|update|delete`: project roles, the five built in and
//! custom ones (sets of the permission table's project actions, see
//! docs/permissions.md). `wharf member add --role` takes either kind by name.

use std::process::ExitCode;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Client, Target};
use super::{Output, print_rows, runtime};

#[derive(Subcommand, Debug)]
pub enum RoleCmd {
    /// Every project role and its actions.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Define a custom role (system administrators).
    #[command(
        after_help = "Examples:\n  wharf role create scanner --action pull --action scan --action read-scan\n  wharf member add team ci-bot --role scanner\n\nThe actions are those of docs/permissions.md (`wharf role list` shows what the built-in roles hold)."
    )]
    Create {
        name: String,
        /// A project action the role grants (repeat the flag, or separate with commas).
        #[arg(long = "action", value_delimiter = ',', required = true)]
        actions: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Replace a custom role's actions (and description); its holders get them at once.
    Update {
        name: String,
        #[arg(long = "action", value_delimiter = ',', required = true)]
        actions: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Remove a custom role nobody holds.
    Delete { name: String },
}

#[derive(Args, Debug)]
pub struct RoleArgs {
    #[command(subcommand)]
    cmd: RoleCmd,
    #[command(flatten)]
    target: Target,
}

/// `project-admin`, `projectAdmin` and `ProjectAdmin` all name the same role.
fn same_name(a: &str, b: &str) -> bool {
    let fold = |s: &str| {
        s.chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    fold(a) == fold(b)
}

/// The role called `name` on the registry.
pub(super) async fn find_role(c: &Client, name: &str) -> anyhow::Result<Value> {
    let roles = c.json(Method::GET, "/roles", None).await?;
    roles
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|r| r["name"].as_str().is_some_and(|n| same_name(n, name)))
        })
        .cloned()
        .ok_or_else(|| {
            let known: Vec<&str> = roles
                .as_array()
                .map(|a| a.iter().filter_map(|r| r["name"].as_str()).collect())
                .unwrap_or_default();
            anyhow!("no role named {name}; the roles are: {}", known.join(", "))
        })
}

pub fn role(args: RoleArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            RoleCmd::List { output } => {
                let roles = c.json(Method::GET, "/roles", None).await?;
                let rows: Vec<Value> = roles
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|mut r| {
                        if let Output::Table = output {
                            let actions: Vec<&str> = r["actions"]
                                .as_array()
                                .map(|a| a.iter().filter_map(Value::as_str).collect())
                                .unwrap_or_default();
                            r["actions"] = json!(actions.join(","));
                        }
                        r
                    })
                    .collect();
                print_rows(
                    output,
                    &rows,
                    &[
                        ("ID", "/id"),
                        ("NAME", "/name"),
                        ("BUILTIN", "/builtin"),
                        ("ACTIONS", "/actions"),
                    ],
                );
            }
            RoleCmd::Create {
                name,
                actions,
                description,
            } => {
                let body = json!({"name": name, "description": description, "actions": actions});
                c.call(Method::POST, "/roles", Some(&body)).await?;
                println!("created role {name}");
            }
            RoleCmd::Update {
                name,
                actions,
                description,
            } => {
                let found = find_role(&c, &name).await?;
                let id = found["id"].as_i64().unwrap_or_default();
                let description = description
                    .unwrap_or_else(|| found["description"].as_str().unwrap_or("").into());
                let body =
                    json!({"name": found["name"], "description": description, "actions": actions});
                c.call(Method::PUT, &format!("/roles/{id}"), Some(&body))
                    .await?;
                println!("updated role {name}");
            }
            RoleCmd::Delete { name } => {
                let id = find_role(&c, &name).await?["id"]
                    .as_i64()
                    .unwrap_or_default();
                c.call(Method::DELETE, &format!("/roles/{id}"), None)
                    .await?;
                println!("deleted role {name}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_names_match_in_any_spelling() {
        assert!(super::same_name("project-admin", "projectAdmin"));
        assert!(super::same_name("LimitedGuest", "limitedGuest"));
        assert!(!super::same_name("guest", "limitedGuest"));
    }
}
