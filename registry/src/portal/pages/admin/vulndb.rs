//! `/admin/vulndb`: the scanner's vulnerability database (file, when it was built
//! and replaced, advisories per ecosystem and source, the `--vuln-db-ref` it is
//! replicated from and how the last pull went), "Update now" when there is a
//! source, and scan-all: its schedule, "Scan all now" and the scans by status.

use axum::extract::State;
use maud::html;
use serde::Deserialize;

use super::{back, csrf, page, require, when};
use crate::auth::rbac::SystemAction;
use crate::error::RegistryError;
use crate::http::AppState;
use crate::portal::error::PageResult;
use crate::portal::session::{Checked, Viewer};

pub async fn show(State(reg): State<AppState>, viewer: Viewer) -> PageResult {
    require(&reg, &viewer, SystemAction::ReadSecuritySettings)?;
    let status = reg.security.vuln_db_status(&viewer.who).await?;
    let pulling = reg.security.vuln_db_pulling();
    let (schedule, metrics) = if status.enabled {
        (
            Some(reg.security.scan_schedule().await?),
            Some(reg.security.scan_metrics().await?),
        )
    } else {
        (None, None)
    };
    let body = html! {
        @if !status.enabled {
            p.empty #vulndb-off { "Scanning is off: start the server with --vuln-db PATH (a database made by `wharf db update` or `wharf db import`), or --vuln-db-ref HOST/REPO:TAG to replicate one from a registry." }
        } @else {
            section.card #vulndb data-poll=[pulling.then_some("2000")] {
                h2 { "Database" }
                dl.facts {
                    dt { "File" } dd { code #vulndb-path { (status.path) } }
                    dt { "Replaced" } dd { (when(status.file_modified)) }
                    @if let Some(info) = &status.info {
                        dt { "Built" } dd #vulndb-updated { (info.updated_at.clone().unwrap_or_else(|| "—".into())) }
                        dt { "Schema" } dd { (info.schema_version) }
                        dt { "Advisories" } dd #vulndb-advisories { (info.advisories) }
                        dt { "Affected packages" } dd { (info.affected_packages) }
                    }
                    dt { "Source" } dd { @match &status.source {
                        Some(r) => { code #vulndb-source { (r) } @if let Some(h) = status.refresh_hours { ", pulled every " (h) " h" } }
                        None => { "none: the file is updated by hand (`wharf db update` / `wharf db import`)" }
                    } }
                    @if let Some(p) = &status.last_pull {
                        dt { "Last pull" } dd { (when(Some(p.finished_at))) ": " @match &p.outcome {
                            Ok(digest) => { "pulled " code { (digest) } }
                            Err(e) => { span.error { (e) } }
                        } }
                    }
                    @if pulling { dt { "Now" } dd { "pulling…" } }
                }
                @if let Some(problem) = &status.problem { p.error role="alert" { (problem) } }
                @if status.source.is_some() {
                    form method="post" action="/admin/vulndb" data-refresh="vulndb" {
                        (csrf(&viewer))
                        button type="submit" name="action" value="update" disabled[pulling] { "Update now" }
                    }
                }
            }
            @if let Some(info) = &status.info {
                section.card {
                    h2 { "Advisories per ecosystem" }
                    @if info.ecosystems.is_empty() { p.empty { "The database holds no advisories: import some or configure a source." } }
                    @else {
                        table.list #ecosystems {
                            thead { tr { th scope="col" { "Ecosystem" } th scope="col" { "Advisories" } } }
                            tbody { @for (eco, n) in &info.ecosystems { tr { td { (eco) } td.num { (n) } } } }
                        }
                    }
                    @if !info.sources.is_empty() {
                        h3 { "By source" }
                        table.list {
                            thead { tr { th scope="col" { "Source" } th scope="col" { "Advisories" } } }
                            tbody { @for (src, n) in &info.sources { tr { td { (src) } td.num { (n) } } } }
                        }
                    }
                }
            }
        }
        @if let (Some(schedule), Some(metrics)) = (&schedule, &metrics) {
            section.card {
                h2 { "Scan all" }
                p { "Scans by status: "
                    @if metrics.by_status.is_empty() { "none yet" }
                    @for (st, n) in &metrics.by_status { span.badge { (st) ": " (n) } " " } }
                form method="post" action="/admin/vulndb" {
                    (csrf(&viewer))
                    button type="submit" name="action" value="scan_all" { "Scan all now" }
                }
                form method="post" action="/admin/vulndb" {
                    (csrf(&viewer))
                    input type="hidden" name="action" value="schedule";
                    label for="scan-kind" { "Scan every image" }
                    select #scan-kind name="schedule_type" {
                        @for (v, text) in [("None", "never (by hand only)"), ("Hourly", "hourly"), ("Daily", "daily"), ("Weekly", "weekly"), ("Custom", "on a custom cron")] {
                            option value=(v) selected[v == schedule.kind] { (text) }
                        }
                    }
                    label for="scan-cron" { "Custom cron, 6 fields with seconds first" }
                    input #scan-cron name="cron" placeholder="0 0 4 * * *" value=(if schedule.kind == "Custom" { schedule.cron.as_str() } else { "" });
                    button type="submit" { "Save schedule" }
                }
            }
        }
    };
    Ok(page(&viewer, "Vulnerability database", "vulndb", body))
}

#[derive(Deserialize)]
pub struct VulnDbForm {
    action: String,
    #[serde(default)]
    schedule_type: String,
    #[serde(default)]
    cron: String,
}

pub async fn act(State(reg): State<AppState>, c: Checked<VulnDbForm>) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let ip = v.ip.as_deref();
    match f.action.as_str() {
        "update" => reg.security.update_vuln_db(&v.who, ip)?,
        "scan_all" | "schedule" => {
            require(&reg, &v, SystemAction::ManageSecuritySettings)?;
            let (kind, cron) = if f.action == "scan_all" {
                ("Manual", "")
            } else {
                (f.schedule_type.as_str(), f.cron.trim())
            };
            reg.security.set_scan_schedule(kind, cron).await?;
            reg.access
                .audit(&v.who, "update", "scan_all_schedule", kind, ip);
        }
        other => {
            return Err(RegistryError::bad_request(format!("unknown action {other:?}")).into());
        }
    }
    back("/admin/vulndb")
}
