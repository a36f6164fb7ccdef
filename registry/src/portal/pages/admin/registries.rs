//! `/admin/registries`: the registry endpoints replication and proxy caches use.
//! Credentials are write-only: the page never shows a stored secret. "Test" pings
//! the endpoint with its stored credentials and says what it answered.

use axum::extract::{Path, Query, State};
use maud::html;
use serde::Deserialize;

use super::{back, checked, csrf, page, q, require};
use crate::auth::rbac::SystemAction;
use crate::error::RegistryError;
use crate::http::AppState;
use crate::portal::error::PageResult;
use crate::portal::session::{Checked, Viewer};
use crate::service::replication::{Registry, RegistryCredential, RegistryPing};

#[derive(Deserialize)]
pub struct Notice {
    /// The endpoint just tested and how it went (`ok` or the reason).
    tested: Option<i64>,
    result: Option<String>,
}

pub async fn list(
    State(reg): State<AppState>,
    viewer: Viewer,
    Query(notice): Query<Notice>,
) -> PageResult {
    require(&reg, &viewer, SystemAction::ManageRegistries)?;
    let endpoints = reg.registries.list(&viewer.who, None).await?;
    let body = html! {
        @if let (Some(id), Some(result)) = (notice.tested, &notice.result) {
            @let name = endpoints.iter().find(|e| e.id == id).map(|e| e.name.as_str()).unwrap_or("?");
            @if result == "ok" {
                p.ok role="status" #ping-result { "Endpoint " (name) " answered and accepted the credentials." }
            } @else {
                p.error role="alert" #ping-result { "Endpoint " (name) ": " (result) }
            }
        }
        @if endpoints.is_empty() {
            p.empty { "No registry endpoints yet. Add one below, then create a replication policy that uses it." }
        } @else {
            table.list #registries {
                caption { (endpoints.len()) " endpoint" @if endpoints.len() != 1 { "s" } }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "URL" }
                    th scope="col" { "Credentials" } th scope="col" { "TLS" } th scope="col" { "Actions" }
                } }
                tbody {
                    @for e in &endpoints {
                        tr data-registry=(e.name) {
                            th scope="row" { (e.name) @if !e.description.is_empty() { br; span.muted { (e.description) } } }
                            td { (e.kind) }
                            td { code { (e.url) } }
                            td { @match e.credential.as_ref().and_then(|c| c.access_key.as_deref()) {
                                Some(user) if !user.is_empty() => { (user) " (secret stored)" }
                                _ => { "anonymous" }
                            } }
                            td { @if e.insecure { "certificate not verified" } @else { "verified" } }
                            td.actions {
                                form.inline method="post" action={"/admin/registries/" (e.id)} {
                                    (csrf(&viewer))
                                    button type="submit" name="action" value="ping" aria-label={"Test " (e.name)} { "Test" }
                                    " "
                                    button.danger type="submit" name="action" value="delete" aria-label={"Delete " (e.name)} { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "New endpoint" }
            form method="post" action="/admin/registries" {
                (csrf(&viewer))
                label for="reg-name" { "Name" }
                input #reg-name name="name" required maxlength="255";
                label for="reg-type" { "Provider" }
                select #reg-type name="kind" {
                    option value="harbor" { "Harbor or Wharf" }
                    option value="docker-registry" { "Docker Registry (Distribution)" }
                }
                label for="reg-url" { "URL" }
                input #reg-url type="url" name="url" required placeholder="https://registry.example.com";
                label for="reg-desc" { "Description (optional)" }
                input #reg-desc name="description";
                label for="reg-user" { "Access ID (user name; empty: anonymous)" }
                input #reg-user name="access_key" autocomplete="off";
                label for="reg-secret" { "Access secret (stored encrypted, never shown again)" }
                input #reg-secret type="password" name="access_secret" autocomplete="new-password";
                label.check { input type="checkbox" name="insecure" value="true"; " Do not verify the remote certificate" }
                button type="submit" { "Add endpoint" }
            }
        }
    };
    Ok(page(&viewer, "Registry endpoints", "registries", body))
}

#[derive(Deserialize)]
pub struct NewEndpoint {
    name: String,
    kind: String,
    url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    access_key: String,
    #[serde(default)]
    access_secret: String,
    insecure: Option<String>,
}

pub async fn create(State(reg): State<AppState>, c: Checked<NewEndpoint>) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let key = f.access_key.trim();
    let credential = (!key.is_empty()).then(|| RegistryCredential {
        kind: Some("basic".into()),
        access_key: Some(key.to_string()),
        access_secret: Some(f.access_secret.clone()),
    });
    let endpoint = Registry {
        id: 0,
        name: f.name.trim().to_string(),
        url: f.url.trim().to_string(),
        kind: f.kind,
        description: f.description.trim().to_string(),
        credential,
        insecure: checked(&f.insecure),
        ca_file: None,
        creation_time: String::new(),
        update_time: String::new(),
    };
    reg.registries
        .create(&v.who, v.ip.as_deref(), endpoint)
        .await?;
    back("/admin/registries")
}

#[derive(Deserialize)]
pub struct EndpointAction {
    action: String,
}

pub async fn act(
    State(reg): State<AppState>,
    Path(id): Path<i64>,
    c: Checked<EndpointAction>,
) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    match f.action.as_str() {
        "ping" => {
            let ping = RegistryPing {
                id: Some(id),
                ..Default::default()
            };
            // Not being allowed is the page's error; an unreachable endpoint is news.
            require(&reg, &v, SystemAction::ManageRegistries)?;
            let result = match reg.registries.ping(&v.who, ping).await {
                Ok(()) => "ok".to_string(),
                Err(e) => e.to_string(),
            };
            back(&format!(
                "/admin/registries?tested={id}&result={}",
                q(&result)
            ))
        }
        "delete" => {
            reg.registries.delete(&v.who, v.ip.as_deref(), id).await?;
            back("/admin/registries")
        }
        other => Err(RegistryError::bad_request(format!("unknown action {other:?}")).into()),
    }
}
