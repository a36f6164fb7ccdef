//! `/admin/allowlist`: Harbor's system CVE allow-list, with its expiry. Projects
//! that reuse the system list (Harbor's default) ignore these CVEs in their
//! vulnerability prevention.

use axum::extract::State;
use maud::html;
use serde::Deserialize;

use super::{back, csrf, page, require};
use crate::auth::rbac::SystemAction;
use crate::error::RegistryError;
use crate::http::AppState;
use crate::portal::error::PageResult;
use crate::portal::layout;
use crate::portal::session::{Checked, Viewer};

pub async fn show(State(reg): State<AppState>, viewer: Viewer) -> PageResult {
    require(&reg, &viewer, SystemAction::ReadSecuritySettings)?;
    let list = reg.security.system_allowlist().await?;
    let expiry = list
        .expires_at
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let expired = list.expires_at.is_some_and(|t| t <= crate::metadata::now());
    let body = html! {
        @if list.items.is_empty() {
            p.empty { "The system allow-list is empty: every CVE counts. Add CVE IDs below to ignore them in projects that use the system list." }
        } @else {
            section.card {
                h2 { "Allowed CVEs" }
                ul #allowlist-items { @for id in &list.items { li { code { (id) } } } }
                p { @match list.expires_at {
                    Some(t) => { @if expired { strong.error { "Expired " (layout::time(t)) ": the list no longer applies." } } @else { "Expires " (layout::time(t)) "." } }
                    None => { "Never expires." }
                } }
            }
        }
        section.card {
            h2 { "Edit" }
            form method="post" action="/admin/allowlist" {
                (csrf(&viewer))
                label for="cves" { "CVE IDs, one per line or separated by commas" }
                textarea #cves name="cves" rows="6" { (list.items.join("\n")) }
                label for="expires" { "Expires on (empty: never)" }
                input #expires type="date" name="expires" value=(expiry);
                button type="submit" { "Save allow-list" }
            }
        }
    };
    Ok(page(&viewer, "System CVE allow-list", "allowlist", body))
}

#[derive(Deserialize)]
pub struct AllowlistForm {
    #[serde(default)]
    cves: String,
    #[serde(default)]
    expires: String,
}

pub async fn save(State(reg): State<AppState>, c: Checked<AllowlistForm>) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let items: Vec<String> = f
        .cves
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    // The end of the chosen day, as the project pages store it.
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
        .set_system_allowlist(&v.who, v.ip.as_deref(), items, expires_at)
        .await?;
    back("/admin/allowlist")
}
