//! The settings page's content-trust and tag-rule sections: content trust on or
//! off, the trusted public keys (added as PEM, removed one by one), the keyless
//! identities (issuer + subject), and the immutability rules (repository and tag
//! patterns). Keys and identities are the project's `wharf_trusted_keys` and
//! `wharf_trusted_identities` settings, written through the same
//! `Security::update_project_settings` as the API's `PUT /projects/{p}`; rules go
//! through `Immutability`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;

use super::project::Rights;
use crate::error::RegistryError;
use crate::http::AppState;
use crate::metadata::identity::Project;
use crate::portal::error::PageResult;
use crate::portal::session::{Checked, Viewer};
use crate::service::ProjectSettings;
use crate::service::lifecycle::ImmutableRule;
use crate::service::lifecycle::selectors::{ScopeSelectors, Selector};
use crate::service::security::keyless_trust::TrustedIdentity;
use crate::service::security::{TRUSTED_IDENTITIES, TRUSTED_KEYS};

/// A key's fingerprint as signatures show it (sha256 of its SPKI), or why it is unreadable.
fn fingerprint(pem: &str) -> String {
    wharf_signer::keys::load_public_key(pem)
        .map(|k| wharf_signer::keys::fingerprint(&k))
        .unwrap_or_else(|e| format!("unreadable: {e}"))
}

/// The content-trust card.
pub fn trust_section(viewer: &Viewer, p: &Project, rights: &Rights, s: &ProjectSettings) -> Markup {
    let action = format!("/projects/{}/trust", p.name);
    let off = !rights.update;
    html! {
        section.card #trust {
            h2 { "Content trust" }
            p.hint { "With content trust on, only images signed by one of these keys or identities can be pulled
                (with none listed: any cosign signature). Project administrators may still pull, to inspect." }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                input type="hidden" name="action" value="toggle";
                fieldset disabled[off] {
                    legend { "Pulls" }
                    label { input type="checkbox" name="enabled" value="1" checked[s.content_trust]; " Only serve signed images (content trust)" }
                }
                @if !off { button type="submit" { "Save content trust" } }
            }
            h3 { "Trusted keys" }
            @if s.trusted_keys.is_empty() { p.empty { "No trusted key." } }
            @else {
                table.list #trusted-keys {
                    thead { tr { th scope="col" { "Fingerprint (sha256 of the key)" } @if !off { th scope="col" { "Remove" } } } }
                    tbody { @for (i, k) in s.trusted_keys.iter().enumerate() {
                        tr {
                            td { code { (fingerprint(k)) } }
                            @if !off { td {
                                form.inline method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    input type="hidden" name="action" value="remove_key";
                                    input type="hidden" name="index" value=(i);
                                    button.danger type="submit" aria-label={"Remove key " (i + 1)} { "Remove" }
                                }
                            } }
                        }
                    } }
                }
            }
            @if !off {
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input type="hidden" name="action" value="add_key";
                    label for="trust-key" { "Public key (PEM, as " code { "wharf key generate" } " writes cosign.pub)" }
                    textarea #trust-key name="pem" rows="5" required placeholder="-----BEGIN PUBLIC KEY-----" {}
                    button type="submit" { "Add key" }
                }
            }
            h3 { "Keyless identities" }
            @if s.trusted_identities.is_empty() { p.empty { "No keyless identity." } }
            @else {
                table.list #trusted-identities {
                    thead { tr { th scope="col" { "Issuer" } th scope="col" { "Subject" } @if !off { th scope="col" { "Remove" } } } }
                    tbody { @for (i, id) in s.trusted_identities.iter().enumerate() {
                        tr {
                            td { code { (id.issuer.as_deref().or(id.issuer_regexp.as_deref()).unwrap_or("")) } }
                            td { code { (id.identity.as_deref().or(id.identity_regexp.as_deref()).unwrap_or("")) } }
                            @if !off { td {
                                form.inline method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    input type="hidden" name="action" value="remove_identity";
                                    input type="hidden" name="index" value=(i);
                                    button.danger type="submit" aria-label={"Remove identity " (i + 1)} { "Remove" }
                                }
                            } }
                        }
                    } }
                }
            }
            @if !off {
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input type="hidden" name="action" value="add_identity";
                    label for="trust-issuer" { "OIDC issuer" }
                    input #trust-issuer type="url" name="issuer" required placeholder="https://token.actions.githubusercontent.com";
                    label for="trust-subject" { "Subject (the certificate's identity)" }
                    input #trust-subject name="subject" required;
                    button type="submit" { "Add identity" }
                }
            }
        }
    }
}

/// The immutability card; `rules` is `None` for a role that may not read them.
pub fn immutability_section(
    viewer: &Viewer,
    p: &Project,
    rights: &Rights,
    rules: Option<&[ImmutableRule]>,
) -> Markup {
    let Some(rules) = rules else {
        return html! {};
    };
    let action = format!("/projects/{}/immutability", p.name);
    let manage = rights.manage_immutable;
    html! {
        section.card #immutability {
            h2 { "Immutable tags" }
            @if rules.is_empty() {
                p.empty { "No rule: any tag may be moved or deleted by those allowed to push and delete." }
            } @else {
                table.list {
                    caption { "Tags these rules cover never move or go away" }
                    thead { tr { th scope="col" { "Repositories" } th scope="col" { "Tags" } th scope="col" { "State" } @if manage { th scope="col" { "Remove" } } } }
                    tbody { @for r in rules {
                        tr {
                            td { @for sel in &r.scope_selectors.repository { code { (sel.decoration) " " (sel.pattern) } " " } }
                            td { @for sel in &r.tag_selectors { code { (sel.decoration) " " (sel.pattern) } " " } }
                            td { @if r.disabled { "disabled" } @else { "active" } }
                            @if manage { td {
                                form.inline method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    input type="hidden" name="action" value="remove";
                                    input type="hidden" name="id" value=(r.id);
                                    button.danger type="submit" aria-label={"Remove rule " (r.id)} { "Remove" }
                                }
                            } }
                        }
                    } }
                }
            }
            @if manage {
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input type="hidden" name="action" value="add";
                    label for="imm-repos" { "Repositories matching (doublestar pattern)" }
                    input #imm-repos name="repos" value="**" required;
                    label for="imm-tags" { "Tags matching" }
                    input #imm-tags name="tags" required placeholder="v*";
                    button type="submit" { "Add rule" }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct TrustForm {
    action: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    pem: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    subject: String,
    index: Option<usize>,
}

pub async fn change(
    State(reg): State<AppState>,
    Path(project): Path<String>,
    c: Checked<TrustForm>,
) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let p = reg.access.project(&project).await?;
    let s = ProjectSettings::from_metadata(&reg.security.project_metadata(p.id).await?);
    let mut keys = s.trusted_keys.clone();
    let mut ids = s.trusted_identities.clone();
    let index = || {
        f.index
            .ok_or_else(|| RegistryError::bad_request("nothing named to remove"))
    };
    let mut values = BTreeMap::new();
    match f.action.as_str() {
        "toggle" => {
            values.insert(
                "enable_content_trust_cosign".to_string(),
                f.enabled.is_some().to_string(),
            );
        }
        "add_key" => {
            // Browsers send a textarea's lines with CRLF; keys are stored as PEM files are written.
            let pem = f.pem.replace("\r\n", "\n");
            let pem = pem.trim();
            if pem.is_empty() {
                return Err(RegistryError::bad_request("paste a PEM public key").into());
            }
            keys.push(format!("{pem}\n"));
            values.insert(TRUSTED_KEYS.to_string(), keys.concat());
        }
        "remove_key" => {
            let i = index()?;
            if i >= keys.len() {
                return Err(RegistryError::not_found("no such key").into());
            }
            keys.remove(i);
            values.insert(TRUSTED_KEYS.to_string(), keys.concat());
        }
        "add_identity" => {
            let (issuer, subject) = (f.issuer.trim(), f.subject.trim());
            if issuer.is_empty() || subject.is_empty() {
                return Err(RegistryError::bad_request(
                    "an identity needs an issuer and a subject",
                )
                .into());
            }
            ids.push(TrustedIdentity {
                identity: Some(subject.to_string()),
                identity_regexp: None,
                issuer: Some(issuer.to_string()),
                issuer_regexp: None,
            });
            values.insert(TRUSTED_IDENTITIES.to_string(), identities_json(&ids)?);
        }
        "remove_identity" => {
            let i = index()?;
            if i >= ids.len() {
                return Err(RegistryError::not_found("no such identity").into());
            }
            ids.remove(i);
            values.insert(TRUSTED_IDENTITIES.to_string(), identities_json(&ids)?);
        }
        other => {
            return Err(RegistryError::bad_request(format!("unknown action {other:?}")).into());
        }
    }
    reg.security
        .update_project_settings(&v.who, v.ip.as_deref(), &p.name, values)
        .await?;
    Ok(Redirect::to(&format!("/projects/{}/settings#trust", p.name)).into_response())
}

fn identities_json(ids: &[TrustedIdentity]) -> Result<String, RegistryError> {
    serde_json::to_string(ids).map_err(|e| RegistryError::Internal(e.to_string()))
}

#[derive(Deserialize)]
pub struct RuleForm {
    action: String,
    #[serde(default)]
    repos: String,
    #[serde(default)]
    tags: String,
    id: Option<i64>,
}

pub async fn change_immutability(
    State(reg): State<AppState>,
    Path(project): Path<String>,
    c: Checked<RuleForm>,
) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let ip = v.ip.as_deref();
    match f.action.as_str() {
        "add" => {
            let pattern = |s: &str| {
                Some(s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        RegistryError::bad_request("a rule needs a repository and a tag pattern")
                    })
            };
            let selector = |decoration: &str, pattern: String| Selector {
                kind: "doublestar".into(),
                decoration: decoration.into(),
                pattern,
                extras: String::new(),
            };
            let rule = ImmutableRule {
                id: 0,
                priority: 0,
                disabled: false,
                action: "immutable".into(),
                template: "immutable_template".into(),
                params: Default::default(),
                tag_selectors: vec![selector("matches", pattern(&f.tags)?)],
                scope_selectors: ScopeSelectors {
                    repository: vec![selector("repoMatches", pattern(&f.repos)?)],
                },
            };
            reg.immutability.create(&v.who, ip, &project, rule).await?;
        }
        "remove" => {
            let id =
                f.id.ok_or_else(|| RegistryError::bad_request("no rule named"))?;
            reg.immutability.delete(&v.who, ip, &project, id).await?;
        }
        other => {
            return Err(RegistryError::bad_request(format!("unknown action {other:?}")).into());
        }
    }
    Ok(Redirect::to(&format!("/projects/{project}/settings#immutability")).into_response())
}
