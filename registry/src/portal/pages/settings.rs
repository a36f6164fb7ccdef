//! `/projects/{p}/settings`: scan and SBOM on push, the vulnerability gate and its
//! threshold, the CVE allow-list with its expiry; content trust and immutable tags
//! (their sections and forms are in `trust.rs`). Shown to every member; the form
//! only to those who may change the project (the service refuses the others anyway).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect};
use maud::html;
use serde::Deserialize;

use super::project::{header, rights};
use crate::auth::rbac::Action;
use crate::error::RegistryError;
use crate::http::AppState;
use crate::portal::error::PageResult;
use crate::portal::layout;
use crate::portal::session::{Checked, Viewer};
use crate::service::ProjectSettings;

const SEVERITIES: [&str; 5] = ["none", "low", "medium", "high", "critical"];

pub async fn show(
    State(reg): State<AppState>,
    viewer: Viewer,
    Path(project): Path<String>,
) -> PageResult {
    let p = reg
        .access
        .project_for(&viewer.who, &project, Action::ReadProject)
        .await?;
    let rights = rights(&reg, &viewer, &p.name).await?;
    let s = ProjectSettings::from_metadata(&reg.security.project_metadata(p.id).await?);
    let allow = reg.security.project_allowlist(p.id).await?;
    // Limited guests may not read the rules: the section is left out for them.
    let immutable = reg.immutability.list(&viewer.who, &p.name).await.ok();
    let off = !rights.update;
    let expiry = allow
        .expires_at
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let body = html! {
        (header(&p, &rights, "settings"))
        @if off { p.hint { "Your role lets you read these settings, not change them." } }
        section.card {
            h2 { "Security" }
            form method="post" action={"/projects/" (p.name) "/settings"} {
                input type="hidden" name="csrf" value=(viewer.csrf);
                fieldset disabled[off] {
                    legend { "On push" }
                    label { input type="checkbox" name="auto_scan" value="true" checked[s.auto_scan]; " Scan for vulnerabilities on push" }
                    label { input type="checkbox" name="auto_sbom_generation" value="true" checked[s.auto_sbom_generation]; " Generate an SBOM on push" }
                }
                fieldset disabled[off] {
                    legend { "Pulls" }
                    label { input type="checkbox" name="prevent_vul" value="true" checked[s.prevent_vul]; " Refuse pulls of images with vulnerabilities of this severity or higher:" }
                    label for="severity" { "Threshold" }
                    select #severity name="severity" {
                        @for sev in SEVERITIES { option value=(sev) selected[s.severity == sev] { (sev) } }
                    }
                    label { input type="checkbox" name="reuse_sys_cve_allowlist" value="true" checked[s.reuse_sys_cve_allowlist]; " Use the system CVE allow-list instead of the project's" }
                }
                @if !off { button type="submit" { "Save settings" } }
            }
        }
        section.card {
            h2 { "CVE allow-list" }
            p.hint { "Vulnerabilities listed here do not block pulls. "
                @if s.reuse_sys_cve_allowlist { strong { "This project uses the system allow-list; this list applies once that is unchecked above." } } }
            form method="post" action={"/projects/" (p.name) "/allowlist"} {
                input type="hidden" name="csrf" value=(viewer.csrf);
                fieldset disabled[off] {
                    legend { "Allowed CVEs" }
                    label for="cves" { "CVE IDs, one per line" }
                    textarea #cves name="cves" rows="4" { (allow.items.join("\n")) }
                    label for="expires" { "Expires on (empty: never)" }
                    input #expires type="date" name="expires" value=(expiry);
                }
                @if !off { button type="submit" { "Save allow-list" } }
            }
            @if let Some(t) = allow.expires_at { p.hint { "Expires " (layout::time(t)) "." } }
        }
        (super::trust::trust_section(&viewer, &p, &rights, &s))
        (super::trust::immutability_section(&viewer, &p, &rights, immutable.as_deref()))
    };
    Ok(
        Html(layout::page(&viewer, &format!("{} settings", p.name), body).into_string())
            .into_response(),
    )
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    auto_scan: Option<String>,
    #[serde(default)]
    auto_sbom_generation: Option<String>,
    #[serde(default)]
    prevent_vul: Option<String>,
    #[serde(default)]
    reuse_sys_cve_allowlist: Option<String>,
    severity: String,
}

pub async fn save(
    State(reg): State<AppState>,
    Path(project): Path<String>,
    c: Checked<SettingsForm>,
) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    // An unchecked box is absent from the form: it means "false".
    let flag = |b: &Option<String>| b.is_some().to_string();
    let values = BTreeMap::from([
        ("auto_scan".to_string(), flag(&f.auto_scan)),
        (
            "auto_sbom_generation".to_string(),
            flag(&f.auto_sbom_generation),
        ),
        ("prevent_vul".to_string(), flag(&f.prevent_vul)),
        (
            "reuse_sys_cve_allowlist".to_string(),
            flag(&f.reuse_sys_cve_allowlist),
        ),
        ("severity".to_string(), f.severity),
    ]);
    reg.security
        .update_project_settings(&v.who, v.ip.as_deref(), &project, values)
        .await?;
    Ok(Redirect::to(&format!("/projects/{project}/settings")).into_response())
}

#[derive(Deserialize)]
pub struct AllowlistForm {
    #[serde(default)]
    cves: String,
    #[serde(default)]
    expires: String,
}

pub async fn save_allowlist(
    State(reg): State<AppState>,
    Path(project): Path<String>,
    c: Checked<AllowlistForm>,
) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let items: Vec<String> = f
        .cves
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let expires_at = match f.expires.trim() {
        "" => None,
        d => Some(
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| {
                    RegistryError::bad_request(format!("expiry {d:?} is not a date (YYYY-MM-DD)"))
                })?
                .and_hms_opt(23, 59, 59)
                .expect("a valid time")
                .and_utc()
                .timestamp(),
        ),
    };
    reg.security
        .set_project_allowlist(&v.who, v.ip.as_deref(), &project, items, expires_at)
        .await?;
    Ok(Redirect::to(&format!("/projects/{project}/settings")).into_response())
}
