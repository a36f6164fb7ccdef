//! `/admin/settings`: the system settings `/api/v2.0/configurations` exposes (the
//! authentication mode, LDAP and OIDC), read and saved through the same service.
//! Secrets are write-only: the field is empty, and left empty keeps the stored one.
//! Items the server's configuration file or flags set are shown but not editable.

use std::collections::HashMap;

use axum::extract::State;
use maud::{Markup, html};
use serde_json::{Map, Value};

use super::{back, csrf, page, require};
use crate::auth::rbac::SystemAction;
use crate::error::RegistryError;
use crate::http::AppState;
use crate::portal::error::PageResult;
use crate::portal::session::{Checked, Viewer};
use crate::service::directory::ItemKind;
use crate::service::directory::settings::{ITEMS, item_kind};

const MODES: &[(&str, &str)] = &[
    ("db_auth", "Database (local users)"),
    ("ldap_auth", "LDAP"),
    ("oidc_auth", "OIDC"),
];

/// An item's label: its name without the group prefix, readable.
fn label(name: &str) -> String {
    name.trim_start_matches("ldap_")
        .trim_start_matches("oidc_")
        .replace('_', " ")
}

fn text_of(v: &Option<Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub async fn show(State(reg): State<AppState>, viewer: Viewer) -> PageResult {
    require(&reg, &viewer, SystemAction::ManageConfigurations)?;
    let items = reg.directory.configurations(&viewer.who)?;
    let field = |name: &str| -> Markup {
        let Some(item) = items.iter().find(|i| i.name == name) else {
            return html! {};
        };
        let id = format!("cfg-{name}");
        let locked = !item.editable;
        html! {
            @match item_kind(name) {
                Some(ItemKind::Flag) => {
                    label.check { input id=(id) type="checkbox" name=(name) value="true" checked[item.value == Some(Value::Bool(true))] disabled[locked]; " " (label(name)) }
                }
                Some(ItemKind::Password) => {
                    label for=(id) { (label(name)) " (write-only: empty keeps the stored one)" }
                    input id=(id) type="password" name=(name) autocomplete="new-password" disabled[locked];
                }
                Some(ItemKind::Number) => {
                    label for=(id) { (label(name)) }
                    input id=(id) type="number" name=(name) value=(text_of(&item.value)) disabled[locked];
                }
                _ => {
                    label for=(id) { (label(name)) }
                    input id=(id) name=(name) value=(text_of(&item.value)) disabled[locked];
                }
            }
            @if locked { p.hint { "Set by the server's configuration file or flags." } }
        }
    };
    let mode = items
        .iter()
        .find(|i| i.name == "auth_mode")
        .map(|i| text_of(&i.value))
        .unwrap_or_default();
    let mode_locked = items.iter().any(|i| i.name == "auth_mode" && !i.editable);
    let group = |prefix: &str| -> Vec<&'static str> {
        ITEMS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| n.starts_with(prefix))
            .collect()
    };
    let body = html! {
        form.settings method="post" action="/admin/settings" {
            (csrf(&viewer))
            section.card {
                h2 { "Authentication" }
                label for="cfg-auth_mode" { "Authentication mode" }
                select #cfg-auth_mode name="auth_mode" disabled[mode_locked] {
                    @for (v, text) in MODES { option value=(v) selected[mode == *v] { (text) } }
                }
                p.hint { "The mode can change only while no user but admin exists (as in Harbor)." }
            }
            section.card {
                h2 { "LDAP" }
                @for name in group("ldap_") { (field(name)) }
            }
            section.card {
                h2 { "OIDC" }
                @for name in group("oidc_") { (field(name)) }
            }
            button type="submit" { "Save settings" }
        }
    };
    Ok(page(&viewer, "System settings", "settings", body))
}

/// Only the items that changed are sent (a PUT is all of them or none); a secret
/// only when a new one was typed; flags are the checkboxes present.
pub async fn save(State(reg): State<AppState>, c: Checked<Vec<(String, String)>>) -> PageResult {
    let (v, form) = (c.viewer, c.form);
    let given: HashMap<&str, &str> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let current = reg.directory.configurations(&v.who)?;
    let mut changes = Map::new();
    for item in current.iter().filter(|i| i.editable) {
        let name = item.name;
        let new = match item_kind(name) {
            Some(ItemKind::Flag) => Value::Bool(given.get(name).is_some_and(|v| *v == "true")),
            Some(ItemKind::Password) => match given.get(name) {
                Some(s) if !s.is_empty() => Value::String(s.to_string()),
                _ => continue,
            },
            Some(ItemKind::Number) => match given.get(name).map(|s| s.trim()) {
                Some("") | None => continue,
                Some(s) => Value::from(s.parse::<i64>().map_err(|_| {
                    RegistryError::bad_request(format!("{name} must be a whole number"))
                })?),
            },
            _ => match given.get(name) {
                Some(s) => Value::String(s.trim().to_string()),
                None => continue,
            },
        };
        let same = match (&item.value, &new) {
            (Some(old), Value::String(s)) => text_of(&Some(old.clone())) == *s,
            (Some(old), new) => old == new,
            (None, Value::String(s)) => s.is_empty() && item_kind(name) != Some(ItemKind::Password),
            (None, Value::Bool(false)) => true,
            _ => false,
        };
        if !same {
            changes.insert(name.to_string(), new);
        }
    }
    if !changes.is_empty() {
        reg.directory
            .update(&v.who, v.ip.as_deref(), &changes, false)
            .await?;
    }
    back("/admin/settings")
}
