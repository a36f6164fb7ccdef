//! `wharf immutable list|add|remove`: a project's tag immutability rules.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Client, Target};
use super::{Output, print_rows, runtime};

#[derive(Subcommand, Debug)]
pub enum ImmutableCmd {
    /// List the project's rules.
    List {
        project: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Add a rule: tags it covers never move to another digest and are never deleted.
    #[command(
        after_help = "Patterns are doublestar globs: * within a segment, ** across '/', {a,b}, [0-9].\n\nExamples:\n  wharf immutable add team --tags 'v*'\n  wharf immutable add team --tags '{latest,stable}' --repos 'web/**'\n  wharf immutable add team --tags 'dev-*' --exclude-tags"
    )]
    Add {
        project: String,
        /// Tag pattern.
        #[arg(long, default_value = "**")]
        tags: String,
        /// Cover the tags that do NOT match --tags.
        #[arg(long)]
        exclude_tags: bool,
        /// Repository pattern, within the project.
        #[arg(long, default_value = "**")]
        repos: String,
        /// Cover the repositories that do NOT match --repos.
        #[arg(long)]
        exclude_repos: bool,
    },
    /// Remove a rule by id.
    Remove { project: String, id: i64 },
}

#[derive(Args, Debug)]
pub struct ImmutableArgs {
    #[command(subcommand)]
    cmd: ImmutableCmd,
    #[command(flatten)]
    target: Target,
}

/// The tag and repository patterns of a rule, for tables.
fn patterns(rule: &mut Value) {
    let join = |list: &Value| {
        list.as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                format!(
                    "{} {}",
                    s["decoration"].as_str().unwrap_or_default(),
                    s["pattern"].as_str().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    rule["tags"] = json!(join(&rule["tag_selectors"]));
    rule["repos"] = json!(join(&rule["scope_selectors"]["repository"]));
}

/// The id at the end of a creation's `Location` (`?` if the server sent none).
pub(crate) fn created_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.rsplit('/').next())
        .unwrap_or("?")
        .to_string()
}

pub fn immutable(args: ImmutableArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            ImmutableCmd::List { project, output } => {
                let items = c
                    .json(Method::GET, &format!("/projects/{project}/immutabletagrules"), None)
                    .await?;
                let mut items = items.as_array().cloned().unwrap_or_default();
                if let Output::Table = output {
                    items.iter_mut().for_each(patterns);
                }
                print_rows(
                    output,
                    &items,
                    &[("ID", "/id"), ("DISABLED", "/disabled"), ("TAGS", "/tags"), ("REPOSITORIES", "/repos")],
                );
            }
            ImmutableCmd::Add { project, tags, exclude_tags, repos, exclude_repos } => {
                let body = json!({
                    "action": "immutable", "template": "immutable_template", "disabled": false,
                    "tag_selectors": [{"kind": "doublestar", "decoration": if exclude_tags { "excludes" } else { "matches" }, "pattern": tags}],
                    "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": if exclude_repos { "repoExcludes" } else { "repoMatches" }, "pattern": repos}]},
                });
                let resp = c
                    .call(Method::POST, &format!("/projects/{project}/immutabletagrules"), Some(&body))
                    .await?;
                let id = created_id(&resp);
                println!("added immutable rule {id} to {project}");
            }
            ImmutableCmd::Remove { project, id } => {
                c.call(Method::DELETE, &format!("/projects/{project}/immutabletagrules/{id}"), None)
                    .await?;
                println!("removed immutable rule {id} from {project}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
