//! `/projects/{p}/webhooks`: the project's webhook policies (target, payload format,
//! events), a form to create or edit one, enable/disable and delete; and
//! `/projects/{p}/webhooks/{id}`: a policy's delivery log, refreshed while
//! deliveries are still pending.
//!
//! The `Authorization` header and the HMAC secret are write-only: never put back
//! into a page; an edit that leaves them empty keeps the stored ones.

use axum::extract::{Path, Query, State};
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
use crate::service::webhooks::{EVENT_TYPES, PAYLOAD_FORMATS, Target, WebhookPolicy};

/// Deliveries shown on a policy's log page.
const LOG_SIZE: u64 = 50;

#[derive(Deserialize)]
pub struct ShowQuery {
    /// The policy whose form is shown filled in.
    edit: Option<i64>,
}

pub async fn show(
    State(reg): State<AppState>,
    viewer: Viewer,
    Path(project): Path<String>,
    Query(q): Query<ShowQuery>,
) -> PageResult {
    let p = reg
        .access
        .project_for(&viewer.who, &project, Action::ReadWebhooks)
        .await?;
    let policies = reg.webhooks.list(&viewer.who, &p.name).await?;
    let rights = rights(&reg, &viewer, &p.name).await?;
    let editing = q
        .edit
        .and_then(|id| policies.iter().find(|w| w.id == id))
        .filter(|_| rights.manage_webhooks);
    let target = editing.and_then(|w| w.targets.first());
    let action = format!("/projects/{}/webhooks", p.name);
    let body = html! {
        (header(&p, &rights, "webhooks"))
        @if policies.is_empty() {
            p.empty { "No webhook: nothing is told when artifacts are pushed, pulled, scanned or deleted here." }
        } @else {
            table.list #webhooks {
                caption { "Webhook policies" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Target" } th scope="col" { "Format" }
                    th scope="col" { "Events" } th scope="col" { "State" } th scope="col" { "Actions" }
                } }
                tbody { @for w in &policies {
                    tr data-webhook=(w.name) {
                        td { a href={(action) "/" (w.id)} { (w.name) } @if !w.description.is_empty() { br; span.muted { (w.description) } } }
                        td { @for t in &w.targets { code { (t.address) } @if t.skip_cert_verify { " " span.badge.warn { "certificate not verified" } } br; } }
                        td { @for t in &w.targets { (t.payload_format) br; } }
                        td { (w.event_types.join(", ")) }
                        td { @if w.enabled { span.badge.ok { "enabled" } } @else { span.badge { "disabled" } } }
                        td {
                            a href={(action) "/" (w.id)} { "Delivery log" }
                            @if rights.manage_webhooks {
                                " · " a href={(action) "?edit=" (w.id) "#webhook-form"} aria-label={"Edit " (w.name)} { "Edit" }
                                form.inline method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    input type="hidden" name="id" value=(w.id);
                                    button type="submit" name="action" value=(if w.enabled { "disable" } else { "enable" }) aria-label={(if w.enabled { "Disable " } else { "Enable " }) (w.name)} {
                                        @if w.enabled { "Disable" } @else { "Enable" }
                                    }
                                    " "
                                    button.danger type="submit" name="action" value="delete" aria-label={"Delete " (w.name)} { "Delete" }
                                }
                            }
                        }
                    }
                } }
            }
        }
        @if rights.manage_webhooks {
            section.card #webhook-form {
                h2 { @match editing { Some(w) => { "Edit " (w.name) }, None => "New webhook" } }
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    @if let Some(w) = editing {
                        input type="hidden" name="action" value="update";
                        input type="hidden" name="id" value=(w.id);
                    } @else {
                        input type="hidden" name="action" value="create";
                    }
                    label for="wh-name" { "Name" }
                    input #wh-name name="name" required value=[editing.map(|w| w.name.as_str())];
                    label for="wh-description" { "Description" }
                    input #wh-description name="description" value=[editing.map(|w| w.description.as_str())];
                    label for="wh-address" { "Endpoint URL" }
                    input #wh-address type="url" name="address" required placeholder="https://hooks.example.com/wharf" value=[target.map(|t| t.address.as_str())];
                    label for="wh-format" { "Payload format" }
                    select #wh-format name="payload_format" {
                        @for f in PAYLOAD_FORMATS { option value=(f) selected[target.is_some_and(|t| t.payload_format == *f)] { (f) } }
                    }
                    label for="wh-auth" { "Authorization header (write-only"
                        @if editing.is_some() { "; empty keeps the current one" } ")" }
                    input #wh-auth type="password" name="auth_header" autocomplete="off";
                    label for="wh-secret" { "HMAC secret for the signature header (write-only"
                        @if editing.is_some() { "; empty keeps the current one" } @else { "; empty: unsigned" } ")" }
                    input #wh-secret type="password" name="secret" autocomplete="new-password";
                    label { input type="checkbox" name="skip_cert_verify" value="1" checked[target.is_some_and(|t| t.skip_cert_verify)]; " Skip certificate verification" }
                    label { input type="checkbox" name="enabled" value="1" checked[editing.is_none_or(|w| w.enabled)]; " Enabled" }
                    fieldset {
                        legend { "Events" }
                        @for e in EVENT_TYPES {
                            label { input type="checkbox" name="event_types" value=(e)
                                checked[editing.map_or(*e == "PUSH_ARTIFACT", |w| w.event_types.iter().any(|x| x == e))]; " " (e) }
                        }
                    }
                    button type="submit" { @if editing.is_some() { "Save webhook" } @else { "Add webhook" } }
                    @if editing.is_some() { " " a href=(action) { "Cancel" } }
                }
            }
        }
    };
    Ok(
        Html(layout::page(&viewer, &format!("{} webhooks", p.name), body).into_string())
            .into_response(),
    )
}

/// The form as pairs: `event_types` comes once per checked box.
pub async fn change(
    State(reg): State<AppState>,
    Path(project): Path<String>,
    c: Checked<Vec<(String, String)>>,
) -> PageResult {
    let (v, form) = (c.viewer, c.form);
    let ip = v.ip.as_deref();
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let id = || {
        get("id")
            .parse::<i64>()
            .map_err(|_| RegistryError::bad_request("no webhook policy named"))
    };
    match get("action").as_str() {
        "create" | "update" => {
            let updating = get("action") == "update";
            let old = match updating {
                true => Some(reg.webhooks.get(&v.who, &project, id()?).await?),
                false => None,
            };
            let auth_header = match (get("auth_header"), &old) {
                (h, Some(old)) if h.is_empty() => old
                    .targets
                    .first()
                    .map(|t| t.auth_header.clone())
                    .unwrap_or_default(),
                (h, _) => h,
            };
            let secret = Some(get("secret")).filter(|s| !s.is_empty());
            let policy = WebhookPolicy {
                id: 0,
                name: get("name"),
                description: get("description"),
                project_id: 0,
                targets: vec![Target {
                    kind: "http".into(),
                    address: get("address"),
                    auth_header,
                    skip_cert_verify: !get("skip_cert_verify").is_empty(),
                    payload_format: get("payload_format"),
                }],
                event_types: form
                    .iter()
                    .filter(|(k, _)| k == "event_types")
                    .map(|(_, v)| v.clone())
                    .collect(),
                creator: String::new(),
                creation_time: String::new(),
                update_time: String::new(),
                enabled: !get("enabled").is_empty(),
                // Absent on update: the service keeps the stored secret.
                secret,
            };
            match old {
                Some(old) => {
                    reg.webhooks
                        .update(&v.who, ip, &project, old.id, policy)
                        .await?
                }
                None => {
                    reg.webhooks.create(&v.who, ip, &project, policy).await?;
                }
            }
        }
        a @ ("enable" | "disable") => {
            let mut policy = reg.webhooks.get(&v.who, &project, id()?).await?;
            policy.enabled = a == "enable";
            // `get` never returns the secret; without one the update keeps it.
            reg.webhooks
                .update(&v.who, ip, &project, policy.id, policy)
                .await?;
        }
        "delete" => reg.webhooks.delete(&v.who, ip, &project, id()?).await?,
        other => {
            return Err(RegistryError::bad_request(format!("unknown action {other:?}")).into());
        }
    }
    Ok(Redirect::to(&format!("/projects/{project}/webhooks")).into_response())
}

/// A policy's deliveries, newest first: event, status, the receiver's last answer,
/// attempts, when. Refreshed while one is pending or being retried.
pub async fn deliveries(
    State(reg): State<AppState>,
    viewer: Viewer,
    Path((project, id)): Path<(String, i64)>,
) -> PageResult {
    let p = reg
        .access
        .project_for(&viewer.who, &project, Action::ReadWebhooks)
        .await?;
    let policy = reg.webhooks.get(&viewer.who, &p.name, id).await?;
    let (list, total) = reg
        .webhooks
        .deliveries(&viewer.who, &p.name, id, 0, LOG_SIZE)
        .await?;
    let rights = rights(&reg, &viewer, &p.name).await?;
    let busy = list
        .iter()
        .any(|d| d.status == "Pending" || d.status == "Running");
    let body = html! {
        (header(&p, &rights, "webhooks"))
        h2 { "Deliveries of " (policy.name) }
        p { a href={"/projects/" (p.name) "/webhooks"} { "All webhooks" } }
        section #deliveries data-poll=[busy.then_some("2000")] aria-live="polite" {
            @if list.is_empty() {
                p.empty { "Nothing sent yet: deliveries appear here when one of "
                    (policy.event_types.join(", ")) " happens in " (p.name) "." }
            } @else {
                table.list {
                    caption { (list.len()) " of " (total) " deliveries, newest first" }
                    thead { tr {
                        th scope="col" { "Event" } th scope="col" { "Target" } th scope="col" { "Status" }
                        th scope="col" { "Response" } th scope="col" { "Attempts" } th scope="col" { "Time" }
                    } }
                    tbody { @for d in &list {
                        tr {
                            td { (d.event_type) }
                            td { code { (d.target) } }
                            td { span.status data-status=(d.status) { (d.status) } }
                            td.num { @match d.last_status_code { Some(c) => (c), None => "—" } }
                            td.num { (d.attempts) }
                            td { (layout::time(d.updated_at)) }
                        }
                    } }
                }
            }
        }
    };
    Ok(Html(
        layout::page(
            &viewer,
            &format!("{} webhook {}", p.name, policy.name),
            body,
        )
        .into_string(),
    )
    .into_response())
}
