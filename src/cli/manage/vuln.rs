//! `wharf vuln`: the registry's Security Hub from the command line — which
//! images contain a CVE, and the registry-wide summary.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use super::client::{Client, Target};
use super::{Output, print_rows, runtime};

#[derive(Subcommand, Debug)]
pub enum VulnCmd {
    /// Artifacts that contain a vulnerability (and other conditions).
    #[command(after_help = "Examples:\n  wharf vuln search CVE-2023-4911\n  \
        wharf vuln search --severity critical --project-id 3 --output json\n  \
        wharf vuln search --package openssl --min-cvss 7")]
    Search {
        /// The vulnerability id (CVE, GHSA, DSA, …); any when absent.
        id: Option<String>,
        #[arg(long)]
        severity: Option<String>,
        #[arg(long)]
        package: Option<String>,
        #[arg(long)]
        project_id: Option<i64>,
        /// Repository name (project/name).
        #[arg(long)]
        repository: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        /// Only findings with a CVSS v3 score at least this.
        #[arg(long)]
        min_cvss: Option<f64>,
        /// How many results at most.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Vulnerability counts of every artifact, and the most dangerous CVEs and artifacts.
    Summary {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

#[derive(Args, Debug)]
pub struct VulnArgs {
    #[command(subcommand)]
    cmd: VulnCmd,
    #[command(flatten)]
    target: Target,
}

pub fn vuln(args: VulnArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            VulnCmd::Search {
                id,
                severity,
                package,
                project_id,
                repository,
                tag,
                min_cvss,
                limit,
                output,
            } => {
                let mut q = Vec::new();
                let mut add = |k: &str, v: Option<String>| {
                    if let Some(v) = v {
                        q.push(format!("{k}={v}"));
                    }
                };
                add("cve_id", id);
                add("severity", severity);
                add("package", package);
                add("project_id", project_id.map(|p| p.to_string()));
                add("repository_name", repository);
                add("tag", tag);
                add("cvss_score_v3", min_cvss.map(|m| format!("[{m}~10]")));
                let mut items = Vec::new();
                let mut page = 1;
                while items.len() < limit as usize {
                    let size = (limit as usize - items.len()).min(100);
                    let path = format!(
                        "/security/vul?with_tag=true&page={page}&page_size={size}&q={}",
                        percent_encoding::utf8_percent_encode(
                            &q.join(","),
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    );
                    let got = c.json(Method::GET, &path, None).await?;
                    let got = got.as_array().cloned().unwrap_or_default();
                    let done = got.len() < size;
                    items.extend(got);
                    if done {
                        break;
                    }
                    page += 1;
                }
                for i in &mut items {
                    let tags: Vec<&str> = i["tags"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    i["tag_list"] = Value::String(tags.join(","));
                }
                print_rows(
                    output,
                    &items,
                    &[
                        ("CVE", "/cve_id"),
                        ("SEVERITY", "/severity"),
                        ("CVSS", "/cvss_v3_score"),
                        ("PACKAGE", "/package"),
                        ("VERSION", "/version"),
                        ("FIXED", "/fixed_version"),
                        ("REPOSITORY", "/repository_name"),
                        ("TAGS", "/tag_list"),
                        ("DIGEST", "/digest"),
                    ],
                );
                Ok(ExitCode::SUCCESS)
            }
            VulnCmd::Summary { output } => {
                let s = c
                    .json(
                        Method::GET,
                        "/security/summary?with_dangerous_cve=true&with_dangerous_artifact=true",
                        None,
                    )
                    .await?;
                match output {
                    Output::Json => println!("{}", serde_json::to_string_pretty(&s)?),
                    Output::Table => {
                        println!(
                            "artifacts {} (scanned {}), vulnerabilities {} (fixable {})",
                            s["total_artifact"],
                            s["scanned_cnt"],
                            s["total_vuls"],
                            s["fixable_cnt"]
                        );
                        println!(
                            "critical {}  high {}  medium {}  low {}  unknown {}",
                            s["critical_cnt"],
                            s["high_cnt"],
                            s["medium_cnt"],
                            s["low_cnt"],
                            s["unknown_cnt"]
                        );
                        let cves = s["dangerous_cves"].as_array().cloned().unwrap_or_default();
                        if !cves.is_empty() {
                            println!("\nmost dangerous vulnerabilities:");
                            print_rows(
                                Output::Table,
                                &cves,
                                &[
                                    ("CVE", "/cve_id"),
                                    ("CVSS", "/cvss_score_v3"),
                                    ("PACKAGE", "/package"),
                                    ("VERSION", "/version"),
                                ],
                            );
                        }
                        let arts = s["dangerous_artifacts"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default();
                        if !arts.is_empty() {
                            println!("\nmost vulnerable artifacts:");
                            print_rows(
                                Output::Table,
                                &arts,
                                &[
                                    ("REPOSITORY", "/repository_name"),
                                    ("DIGEST", "/digest"),
                                    ("CRITICAL", "/critical_cnt"),
                                    ("HIGH", "/high_cnt"),
                                    ("MEDIUM", "/medium_cnt"),
                                ],
                            );
                        }
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
