//! `wharf login`, `project`, `member`, `robot`, `user`: the management API
//! from the command line, for people and CI scripts.

pub(super) mod client;
mod immutable;
mod quota;
mod retention;
mod role;
mod vuln;

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

use client::{Client, Target, host_of, save_login};
pub(crate) use immutable::created_id;
pub use immutable::{ImmutableArgs, immutable};
pub use quota::{QuotaArgs, parse_size, quota};
pub use retention::{RetentionArgs, retention};
pub use role::{RoleArgs, role};
pub use vuln::{VulnArgs, vuln};

#[derive(Copy, Clone, Debug, ValueEnum, Default)]
pub enum Output {
    #[default]
    Table,
    Json,
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Read one line from stdin (for `--password-stdin`), without the newline.
pub(super) fn stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub(super) fn print_rows(output: Output, items: &[Value], columns: &[(&str, &str)]) {
    if let Output::Json = output {
        println!(
            "{}",
            serde_json::to_string_pretty(items).unwrap_or_default()
        );
        return;
    }
    let cell = |v: &Value, key: &str| match v.pointer(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let widths: Vec<usize> = columns
        .iter()
        .map(|(title, key)| {
            items
                .iter()
                .map(|i| cell(i, key).len())
                .max()
                .unwrap_or(0)
                .max(title.len())
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!(
        "{}",
        line(columns.iter().map(|(t, _)| t.to_string()).collect())
    );
    for item in items {
        println!(
            "{}",
            line(columns.iter().map(|(_, k)| cell(item, k)).collect())
        );
    }
}

// ---------------------------------------------------------------- login

/// Log in to a Wharf registry and remember the credentials for later verbs.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wharf login registry.example.com -u alice\n  echo \"$SECRET\" | wharf login 127.0.0.1:5000 --insecure -u 'robot$ci+builder' --password-stdin"
)]
pub struct LoginArgs {
    /// Registry host[:port] or URL.
    registry: String,
    /// User or robot name.
    #[arg(short = 'u', long = "user", env = "WHARF_USERNAME")]
    user: String,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
    /// Password (prefer --password-stdin: command lines are visible to other users).
    #[arg(
        short = 'p',
        long = "pass",
        env = "WHARF_PASSWORD",
        hide_env_values = true
    )]
    pass: Option<String>,
    /// Plain HTTP instead of HTTPS.
    #[arg(long)]
    insecure: bool,
}

pub fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let password = match (args.password_stdin, args.pass) {
        (true, _) => stdin_line()?,
        (false, Some(p)) => p,
        (false, None) if std::io::stdin().is_terminal() => {
            eprint!("Password: ");
            stdin_line()?
        }
        (false, None) => bail!("no password: use --password-stdin or WHARF_PASSWORD"),
    };
    let target = Target {
        registry: Some(args.registry.clone()),
        username: Some(args.user.clone()),
        password: Some(password.clone()),
        insecure: args.insecure,
    };
    let client = Client::new(&target)?;
    runtime()?.block_on(async {
        // Robots have no "current user"; both answer 401 to bad credentials.
        let path = if args.user.starts_with("robot$") {
            "/projects?page_size=1"
        } else {
            "/users/current"
        };
        client.call(Method::GET, path, None).await.map(|_| ())
    })?;
    let file = save_login(
        host_of(&args.registry),
        &args.user,
        &password,
        args.insecure || args.registry.starts_with("http://"),
    )?;
    println!("Login Succeeded (credentials stored in {})", file.display());
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- projects

#[derive(Subcommand, Debug)]
pub enum ProjectCmd {
    /// Create a project (you become its project admin).
    Create {
        name: String,
        /// Anyone, even anonymous users, may pull.
        #[arg(long)]
        public: bool,
    },
    /// List the projects you can see.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Delete an empty project.
    Delete { name: String },
    /// Show a project's settings and CVE allow-list.
    Show {
        name: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Change a project's settings (Harbor's project metadata).
    #[command(
        after_help = "Settings: auto_scan, auto_sbom_generation, prevent_vul, severity (none|low|medium|high|critical),\n\
        reuse_sys_cve_allowlist, enable_content_trust_cosign, public\n\n\
        Examples:\n  wharf project set team auto_scan=true prevent_vul=true severity=high\n  \
        wharf project set prod enable_content_trust_cosign=true --trusted-key cosign.pub\n  \
        wharf project set team reuse_sys_cve_allowlist=false --allow-cve CVE-2023-32681 --allow-cve-until 2027-06-30"
    )]
    Set {
        name: String,
        /// KEY=VALUE settings.
        settings: Vec<String>,
        /// PEM public keys whose cosign signatures satisfy content trust (replaces the list).
        #[arg(long = "trusted-key", value_name = "FILE")]
        trusted_keys: Vec<std::path::PathBuf>,
        /// CVE IDs for the project's allow-list (replaces the list).
        #[arg(long = "allow-cve", value_name = "ID")]
        allow_cves: Vec<String>,
        /// The allow-list expires at the start of this day (YYYY-MM-DD, UTC); never by default.
        #[arg(long = "allow-cve-until", value_name = "DATE", requires = "allow_cves")]
        allow_until: Option<String>,
    },
}

fn metadata_is_empty(body: &Value) -> bool {
    body["metadata"].as_object().is_none_or(|m| m.is_empty())
}

/// `YYYY-MM-DD` → unix seconds at 00:00 UTC.
fn day_start(date: &str) -> anyhow::Result<i64> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .ok_or_else(|| anyhow!("{date:?} is not a date like 2027-06-30"))
}

#[derive(Args, Debug)]
pub struct ProjectArgs {
    #[command(subcommand)]
    cmd: ProjectCmd,
    #[command(flatten)]
    target: Target,
}

pub fn project(args: ProjectArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            ProjectCmd::Create { name, public } => {
                c.call(Method::POST, "/projects", Some(&json!({"project_name": name, "metadata": {"public": public.to_string()}}))).await?;
                println!("created project {name}");
            }
            ProjectCmd::List { output } => {
                let items = c.json(Method::GET, "/projects?page_size=100", None).await?;
                let items = items.as_array().cloned().unwrap_or_default();
                print_rows(output, &items, &[("NAME", "/name"), ("PUBLIC", "/metadata/public"), ("REPOSITORIES", "/repo_count"), ("OWNER", "/owner_name")]);
            }
            ProjectCmd::Delete { name } => {
                c.call(Method::DELETE, &format!("/projects/{name}"), None).await?;
                println!("deleted project {name}");
            }
            ProjectCmd::Show { name, output } => {
                let p = c.json(Method::GET, &format!("/projects/{name}"), None).await?;
                match output {
                    Output::Json => println!("{}", serde_json::to_string_pretty(&p)?),
                    Output::Table => {
                        println!("project {}", p["name"].as_str().unwrap_or(&name));
                        for (k, v) in p["metadata"].as_object().into_iter().flatten() {
                            let v = v.as_str().unwrap_or_default();
                            let shown = if k == "wharf_trusted_keys" { format!("{} key(s)", v.matches("BEGIN PUBLIC KEY").count()) } else { v.to_string() };
                            println!("  {k:<28} {shown}");
                        }
                        let ids: Vec<&str> = p["cve_allowlist"]["items"].as_array().into_iter().flatten().filter_map(|i| i["cve_id"].as_str()).collect();
                        println!("  {:<28} {}", "cve_allowlist", if ids.is_empty() { "(empty)".to_string() } else { ids.join(", ") });
                    }
                }
            }
            ProjectCmd::Set { name, settings, trusted_keys, allow_cves, allow_until } => {
                let mut metadata = serde_json::Map::new();
                for kv in &settings {
                    let (k, v) = kv.split_once('=').ok_or_else(|| anyhow!("{kv:?}: settings are KEY=VALUE"))?;
                    metadata.insert(k.to_string(), json!(v));
                }
                if !trusted_keys.is_empty() {
                    let mut pems = String::new();
                    for f in &trusted_keys {
                        pems.push_str(&std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?);
                    }
                    metadata.insert("wharf_trusted_keys".into(), json!(pems));
                }
                let mut body = json!({"metadata": metadata});
                if !allow_cves.is_empty() {
                    let expires = allow_until.as_deref().map(day_start).transpose()?;
                    body["cve_allowlist"] = json!({"items": allow_cves.iter().map(|id| json!({"cve_id": id})).collect::<Vec<_>>(), "expires_at": expires});
                }
                if metadata_is_empty(&body) && allow_cves.is_empty() {
                    bail!("nothing to set: give KEY=VALUE settings, --trusted-key or --allow-cve");
                }
                c.call(Method::PUT, &format!("/projects/{name}"), Some(&body)).await?;
                println!("updated project {name}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

// ---------------------------------------------------------------- members

#[derive(Subcommand, Debug)]
pub enum MemberCmd {
    /// Give a user a role in a project.
    #[command(
        after_help = "Roles: project-admin, maintainer, developer, guest, limited-guest, or a custom role's name (`wharf role list`)."
    )]
    Add {
        project: String,
        user: String,
        /// A built-in role or a custom role, by name.
        #[arg(long)]
        role: String,
    },
    /// List a project's members and their roles.
    List {
        project: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Remove a user from a project.
    Remove { project: String, user: String },
}

#[derive(Args, Debug)]
pub struct MemberArgs {
    #[command(subcommand)]
    cmd: MemberCmd,
    #[command(flatten)]
    target: Target,
}

pub fn member(args: MemberArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            MemberCmd::Add {
                project,
                user,
                role,
            } => {
                let found = role::find_role(&c, &role).await?;
                let body = json!({"role_id": found["id"], "member_user": {"username": user}});
                c.call(
                    Method::POST,
                    &format!("/projects/{project}/members"),
                    Some(&body),
                )
                .await?;
                println!(
                    "added {user} to {project} as {}",
                    found["name"].as_str().unwrap_or(&role)
                );
            }
            MemberCmd::List { project, output } => {
                let items = c
                    .json(Method::GET, &format!("/projects/{project}/members"), None)
                    .await?;
                let items = items.as_array().cloned().unwrap_or_default();
                print_rows(
                    output,
                    &items,
                    &[
                        ("USER", "/entity_name"),
                        ("ROLE", "/role_name"),
                        ("ID", "/id"),
                    ],
                );
            }
            MemberCmd::Remove { project, user } => {
                let items = c
                    .json(Method::GET, &format!("/projects/{project}/members"), None)
                    .await?;
                let id = items
                    .as_array()
                    .and_then(|a| a.iter().find(|m| m["entity_name"] == user.as_str()))
                    .and_then(|m| m["id"].as_i64())
                    .ok_or_else(|| anyhow!("{user} is not a member of {project}"))?;
                c.call(
                    Method::DELETE,
                    &format!("/projects/{project}/members/{id}"),
                    None,
                )
                .await?;
                println!("removed {user} from {project}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

// ---------------------------------------------------------------- robots

#[derive(Subcommand, Debug)]
pub enum RobotCmd {
    /// Create a robot account; its secret is printed once.
    #[command(
        after_help = "Examples:\n  wharf robot create ci --project team --access repository:pull,repository:push\n  wharf robot create mirror --system --namespace '*' --access repository:pull --duration 30"
    )]
    Create {
        name: String,
        /// Project of a project-level robot.
        #[arg(long, conflicts_with = "system")]
        project: Option<String>,
        /// A system-level robot (system administrators only).
        #[arg(long)]
        system: bool,
        /// Projects a system robot may act in (`*` for all).
        #[arg(long, default_value = "*")]
        namespace: String,
        /// Permissions, resource:action, comma separated (repository:pull, repository:push, artifact:delete, …).
        #[arg(long, value_delimiter = ',', required = true)]
        access: Vec<String>,
        /// Lifetime in days; -1 never expires.
        #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
        duration: i64,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// List robots (of a project, or all for system administrators).
    List {
        #[arg(long)]
        project: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Delete a robot by id or full name.
    Delete { robot: String },
    /// Issue a new secret (printed once); the old one stops working.
    Refresh { robot: String },
    /// Disable a robot without deleting it.
    Disable { robot: String },
    /// Enable a disabled robot.
    Enable { robot: String },
}

#[derive(Args, Debug)]
pub struct RobotArgs {
    #[command(subcommand)]
    cmd: RobotCmd,
    #[command(flatten)]
    target: Target,
}

async fn robot_id(c: &Client, robot: &str) -> anyhow::Result<i64> {
    if let Ok(id) = robot.parse() {
        return Ok(id);
    }
    let all = c.json(Method::GET, "/robots", None).await?;
    all.as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == robot))
        .and_then(|r| r["id"].as_i64())
        .ok_or_else(|| anyhow!("no robot named {robot}"))
}

pub fn robot(args: RobotArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            RobotCmd::Create { name, project, system, namespace, access, duration, description, output } => {
                let (level, namespace) = match (project, system) {
                    (Some(p), false) => ("project", p),
                    (None, true) => ("system", namespace),
                    _ => bail!("give --project PROJECT or --system"),
                };
                let access: Vec<Value> = access
                    .iter()
                    .map(|a| {
                        let (res, act) = a.split_once(':').ok_or_else(|| anyhow!("access {a:?} is not resource:action"))?;
                        Ok(json!({"resource": res, "action": act}))
                    })
                    .collect::<anyhow::Result<_>>()?;
                let body = json!({"name": name, "level": level, "duration": duration, "description": description,
                    "permissions": [{"kind": "project", "namespace": namespace, "access": access}]});
                let created = c.json(Method::POST, "/robots", Some(&body)).await?;
                match output {
                    Output::Json => println!("{}", serde_json::to_string_pretty(&created)?),
                    Output::Table => {
                        println!("name:   {}", created["name"].as_str().unwrap_or_default());
                        println!("secret: {}", created["secret"].as_str().unwrap_or_default());
                        println!("(the secret is shown only now)");
                    }
                }
            }
            RobotCmd::List { project, output } => {
                let path = match &project {
                    Some(p) => format!("/projects/{p}/robots"),
                    None => "/robots".to_string(),
                };
                let items = c.json(Method::GET, &path, None).await?;
                let items = items.as_array().cloned().unwrap_or_default();
                print_rows(output, &items, &[("ID", "/id"), ("NAME", "/name"), ("LEVEL", "/level"), ("DISABLED", "/disable"), ("EXPIRES", "/expires_at")]);
            }
            RobotCmd::Delete { robot } => {
                let id = robot_id(&c, &robot).await?;
                c.call(Method::DELETE, &format!("/robots/{id}"), None).await?;
                println!("deleted robot {robot}");
            }
            RobotCmd::Refresh { robot } => {
                let id = robot_id(&c, &robot).await?;
                let v = c.json(Method::PATCH, &format!("/robots/{id}"), Some(&json!({}))).await?;
                println!("secret: {}", v["secret"].as_str().unwrap_or_default());
            }
            cmd @ (RobotCmd::Disable { .. } | RobotCmd::Enable { .. }) => {
                let (robot, disable) = match cmd {
                    RobotCmd::Disable { robot } => (robot, true),
                    RobotCmd::Enable { robot } => (robot, false),
                    _ => unreachable!("matched above"),
                };
                let id = robot_id(&c, &robot).await?;
                let current = c.json(Method::GET, &format!("/robots/{id}"), None).await?;
                let body = json!({"description": current["description"], "disable": disable});
                c.call(Method::PUT, &format!("/robots/{id}"), Some(&body)).await?;
                println!("{} robot {robot}", if disable { "disabled" } else { "enabled" });
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

// ---------------------------------------------------------------- users

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a user (system administrators only); the password is read from stdin.
    Create {
        name: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        realname: Option<String>,
    },
    /// List users (system administrators only).
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Change a password, read from stdin: your own (the old one is asked
    /// first, on its own line), or anyone's as a system administrator.
    Passwd {
        /// The user; default: yourself.
        name: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(subcommand)]
    cmd: UserCmd,
    #[command(flatten)]
    target: Target,
}

async fn user_id(c: &Client, name: &str) -> anyhow::Result<i64> {
    let all = c.json(Method::GET, "/users?page_size=100", None).await?;
    all.as_array()
        .and_then(|a| a.iter().find(|u| u["username"] == name))
        .and_then(|u| u["user_id"].as_i64())
        .ok_or_else(|| anyhow!("no user named {name}"))
}

pub fn user(args: UserArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            UserCmd::Create { name, email, realname } => {
                let password = stdin_line()?;
                let body = json!({"username": name, "password": password, "email": email, "realname": realname});
                c.call(Method::POST, "/users", Some(&body)).await?;
                println!("created user {name}");
            }
            UserCmd::List { output } => {
                let items = c.json(Method::GET, "/users?page_size=100", None).await?;
                let items = items.as_array().cloned().unwrap_or_default();
                print_rows(output, &items, &[("ID", "/user_id"), ("NAME", "/username"), ("ADMIN", "/sysadmin_flag"), ("EMAIL", "/email")]);
            }
            UserCmd::Passwd { name } => {
                let me = c.json(Method::GET, "/users/current", None).await?;
                let own = name.as_deref().is_none_or(|n| me["username"] == n);
                let (id, old) = if own {
                    let old = stdin_line()?;
                    (me["user_id"].as_i64().ok_or_else(|| anyhow!("unexpected answer for the current user"))?, Some(old))
                } else {
                    (user_id(&c, name.as_deref().unwrap_or_default()).await?, None)
                };
                let new = stdin_line()?;
                let body = json!({"old_password": old, "new_password": new});
                c.call(Method::PUT, &format!("/users/{id}/password"), Some(&body)).await?;
                println!("password changed");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
