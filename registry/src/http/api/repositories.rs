//! `/projects/{p}/repositories[/{r}[/artifacts[/{ref}[/tags[/{tag}]]]]]`.
//! Repository names inside a project may contain slashes, which Harbor's
//! clients send percent-encoded twice (`team%252Fapp`); both forms are read.

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, Paging, created, paged, render, time};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::Artifact;
use crate::service::ProjectScope;

pub(super) fn decode(repository: &str) -> String {
    percent_decode_str(repository)
        .decode_utf8_lossy()
        .into_owned()
}

/// Harbor's accessory types, from the artifact type of the referrer.
fn accessory_type(artifact_type: Option<&str>) -> &'static str {
    match artifact_type.unwrap_or("") {
        t if t.contains("cosign") || t.contains("sigstore.bundle") => "signature.cosign",
        t if t.contains("spdx") || t.contains("cyclonedx") || t.contains("sbom") => "sbom",
        t if t.contains("in-toto") || t.contains("dsse") => "attestation",
        _ => "subject",
    }
}

/// Harbor's accessory type of a cosign tag (`sha256-<hex>.sig|.att|.sbom`).
fn cosign_tag_type(tag: &str) -> &'static str {
    if tag.ends_with(".sig") {
        "signature.cosign"
    } else if tag.ends_with(".att") {
        "attestation"
    } else {
        "sbom"
    }
}

/// Harbor's `Accessory` objects of an artifact: its referrers, then the manifests
/// cosign's tags name it by.
fn accessories_json(repo: &str, a: &Artifact) -> Vec<Value> {
    let one = |r: &crate::metadata::Referrer, kind: &str| {
        json!({
            "digest": r.digest.to_string(),
            "size": r.size,
            "type": kind,
            "artifact_type": r.artifact_type,
            "subject_artifact_digest": a.digest.to_string(),
            "subject_artifact_repo": repo,
            "icon": "",
        })
    };
    a.accessories
        .iter()
        .map(|r| one(r, accessory_type(r.artifact_type.as_deref())))
        .chain(
            a.cosign_accessories
                .iter()
                .map(|(tag, r)| one(r, cosign_tag_type(tag))),
        )
        .collect()
}

/// What an artifact's JSON carries besides its own fields (Harbor's `with_…` flags).
#[derive(Clone, Copy)]
struct Extras {
    sbom_overview: bool,
    accessories: bool,
}

fn artifact_json(repo: &str, a: &Artifact, extras: Extras) -> Value {
    let mut v = json!({
        "digest": a.digest.to_string(),
        "media_type": a.artifact_type.clone().unwrap_or_else(|| a.media_type.clone()),
        "manifest_media_type": a.media_type,
        "artifact_type": a.artifact_type,
        "size": a.size,
        "push_time": time(a.pushed_at),
        "pull_time": a.pulled_at.map(time),
        "pull_count": a.pull_count,
        "repository_name": repo,
        "tags": a.tags.iter().map(|(name, at)| json!({"name": name, "push_time": time(*at), "repository_name": repo})).collect::<Vec<_>>(),
    });
    if extras.accessories {
        v["accessories"] = accessories_json(repo, a).into();
    }
    if extras.sbom_overview
        && let Some(o) = sbom_overview(a)
    {
        v["sbom_overview"] = o;
    }
    v
}

pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Query(p): Query<Paging>,
) -> Result<Response> {
    let page = p.req();
    let (repos, total) = reg
        .distribution
        .project_repositories(&caller.who, &project, page)
        .await?;
    let items = repos
        .iter()
        .map(|r| {
            json!({"name": r.name, "artifact_count": r.artifact_count, "pull_count": r.pull_count,
            "creation_time": time(r.created_at), "update_time": time(r.updated_at)})
        })
        .collect();
    Ok(paged(
        &format!("/api/v2.0/projects/{project}/repositories"),
        page,
        total,
        items,
    ))
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository)): Path<(String, String)>,
) -> Result<StatusCode> {
    reg.distribution
        .delete_repository(
            &caller.who,
            caller.ip.as_deref(),
            &project,
            &decode(&repository),
        )
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ArtifactQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    #[serde(default)]
    with_scan_overview: bool,
    #[serde(default)]
    with_sbom_overview: bool,
    /// Harbor's `with_accessory`: each artifact's signatures, attestations and SBOMs
    /// (referrers and cosign's `.sig`/`.att`/`.sbom` tags).
    #[serde(default)]
    with_accessory: bool,
    /// Single artifact only: each signature and attestation, verified against the
    /// project's trusted keys (reads every signature, so not offered on lists).
    #[serde(default)]
    with_signature: bool,
    /// Harbor's query; `labels=(1 2)` keeps artifacts carrying any of those labels.
    q: Option<String>,
}

impl ArtifactQuery {
    fn extras(&self) -> Extras {
        Extras {
            sbom_overview: self.with_sbom_overview,
            accessories: self.with_accessory,
        }
    }
}

/// Harbor's `sbom_overview`: the SBOM accessory, if the artifact has one.
fn sbom_overview(a: &Artifact) -> Option<Value> {
    let sbom = a
        .accessories
        .iter()
        .find(|r| accessory_type(r.artifact_type.as_deref()) == "sbom")?;
    Some(
        json!({"sbom_digest": sbom.digest.to_string(), "scan_status": "Success", "report_id": sbom.digest.to_string()}),
    )
}

/// Adds Harbor's `scan_overview` to each artifact that has been scanned.
async fn with_overviews(
    reg: &AppState,
    scope: &ProjectScope,
    items: &mut [(Value, crate::digest::Digest)],
) -> Result<()> {
    let digests: Vec<_> = items.iter().map(|(_, d)| d.clone()).collect();
    let overviews = reg.security.scan_overviews_for(scope, &digests).await?;
    for (json, d) in items.iter_mut() {
        if let Some(o) = overviews.get(d) {
            json["scan_overview"] = json!({ render::REPORT_MIME: super::render::scan_overview(o) });
        }
    }
    Ok(())
}

/// Each artifact's `labels` (Harbor's Label objects), the page's in one query.
async fn with_labels(
    reg: &AppState,
    project: &str,
    repository: &str,
    out: &mut [(Value, crate::digest::Digest)],
) -> Result<()> {
    let repo = crate::service::Distribution::repo_in(project, repository)?;
    let digests: Vec<_> = out.iter().map(|(_, d)| d.clone()).collect();
    let labels = reg.labels.of_artifacts(&repo, &digests).await?;
    for (json, d) in out.iter_mut() {
        json["labels"] = labels
            .get(d)
            .map(|ls| ls.iter().map(super::labels::label_json).collect::<Vec<_>>())
            .unwrap_or_default()
            .into();
    }
    Ok(())
}

pub async fn artifacts(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository)): Path<(String, String)>,
    Query(q): Query<ArtifactQuery>,
) -> Result<Response> {
    let page = Paging {
        page: q.page,
        page_size: q.page_size,
    }
    .req();
    let repository = decode(&repository);
    let labels = match q.q.as_deref() {
        Some(query) => super::labels::labels_in_q(query)?,
        None => Default::default(),
    };
    // The project and the caller's roles in it, read once for both checks.
    let scope = reg.access.scope(&caller.who, &project).await?;
    let (items, total) = reg
        .distribution
        .artifacts(&scope, &repository, page, &labels)
        .await?;
    let full = format!("{project}/{repository}");
    let mut out: Vec<(Value, crate::digest::Digest)> = items
        .iter()
        .map(|a| (artifact_json(&full, a, q.extras()), a.digest.clone()))
        .collect();
    with_labels(&reg, &project, &repository, &mut out).await?;
    if q.with_scan_overview {
        with_overviews(&reg, &scope, &mut out).await?;
    }
    let out = out.into_iter().map(|(v, _)| v).collect();
    Ok(paged(
        &format!("/api/v2.0/projects/{project}/repositories/{repository}/artifacts"),
        page,
        total,
        out,
    ))
}

pub async fn artifact(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository, reference)): Path<(String, String, String)>,
    Query(q): Query<ArtifactQuery>,
) -> Result<Response> {
    let repository = decode(&repository);
    // The project and the caller's roles in it, read once for every check below.
    let scope = reg.access.scope(&caller.who, &project).await?;
    let a = reg
        .distribution
        .artifact(&scope, &repository, &reference)
        .await?;
    let mut out = vec![(
        artifact_json(&format!("{project}/{repository}"), &a, q.extras()),
        a.digest.clone(),
    )];
    with_labels(&reg, &project, &repository, &mut out).await?;
    if q.with_scan_overview {
        with_overviews(&reg, &scope, &mut out).await?;
    }
    let (mut v, digest) = out.remove(0);
    if q.with_signature {
        v["signatures"] = reg
            .security
            .signatures(&scope, &repository, &digest)
            .await?
            .iter()
            .map(super::render::signature)
            .collect();
    }
    Ok(Json(v).into_response())
}

/// `GET …/artifacts/{reference}/accessories`: Harbor's `Accessory` list of the
/// artifact (referrers, then cosign's tags naming it), paged as Harbor pages it.
pub async fn accessories(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository, reference)): Path<(String, String, String)>,
    Query(p): Query<Paging>,
) -> Result<Response> {
    let repository = decode(&repository);
    let scope = reg.access.scope(&caller.who, &project).await?;
    let a = reg
        .distribution
        .artifact(&scope, &repository, &reference)
        .await?;
    let page = p.req();
    let all = accessories_json(&format!("{project}/{repository}"), &a);
    let total = all.len() as i64;
    let items = all
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.page_size as usize)
        .collect();
    Ok(paged(
        &format!(
            "/api/v2.0/projects/{project}/repositories/{repository}/artifacts/{reference}/accessories"
        ),
        page,
        total,
        items,
    ))
}

/// `POST …/artifacts/{reference}/scan`: 202, the work runs in the background. An
/// optional body `{"scan_type":"vulnerability"|"sbom"}` picks what to do (Harbor 2.11).
pub async fn scan(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository, reference)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Result<StatusCode> {
    let kind = if body.iter().all(u8::is_ascii_whitespace) {
        "vulnerability".to_string()
    } else {
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::bad_request(format!("request body: {e}")))?;
        v["scan_type"]
            .as_str()
            .unwrap_or("vulnerability")
            .to_string()
    };
    let sbom = match kind.as_str() {
        "vulnerability" => false,
        "sbom" => true,
        other => {
            return Err(RegistryError::bad_request(format!(
                "scan_type {other:?}: use vulnerability or sbom"
            )));
        }
    };
    reg.security
        .scan_artifact(
            &caller.who,
            caller.ip.as_deref(),
            &project,
            &decode(&repository),
            &reference,
            sbom,
        )
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST …/artifacts/{reference}/scan/stop`: 202 when a pending or running scan
/// was stopped; 404 when the artifact was never scanned, 400 when its scan ended.
pub async fn stop_scan(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository, reference)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    reg.security
        .stop_scan_artifact(
            &caller.who,
            caller.ip.as_deref(),
            &project,
            &decode(&repository),
            &reference,
        )
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET …/artifacts/{reference}/additions/vulnerabilities`: Harbor's report, keyed by its MIME type.
pub async fn vulnerabilities(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository, reference)): Path<(String, String, String)>,
) -> Result<Response> {
    let report = reg
        .security
        .vulnerability_report(&caller.who, &project, &decode(&repository), &reference)
        .await?;
    Ok(Json(match report {
        Some(r) => json!({ render::REPORT_MIME: render::vulnerability_report(&r) }),
        None => json!({}),
    })
    .into_response())
}

pub async fn delete_artifact(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository, reference)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    reg.distribution
        .delete_artifact(
            &caller.who,
            caller.ip.as_deref(),
            &project,
            &decode(&repository),
            &reference,
        )
        .await?;
    Ok(StatusCode::OK)
}

pub async fn tags(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository, reference)): Path<(String, String, String)>,
) -> Result<Response> {
    let repository = decode(&repository);
    let scope = reg.access.scope(&caller.who, &project).await?;
    let a = reg
        .distribution
        .artifact(&scope, &repository, &reference)
        .await?;
    let full = format!("{project}/{repository}");
    let out: Vec<Value> = a
        .tags
        .iter()
        .map(|(n, at)| json!({"name": n, "push_time": time(*at), "repository_name": full}))
        .collect();
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
pub struct NewTag {
    name: String,
}

pub async fn add_tag(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository, reference)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<NewTag>,
) -> Result<Response> {
    let repository = decode(&repository);
    reg.distribution
        .add_tag(
            &caller.who,
            caller.ip.as_deref(),
            &project,
            &repository,
            &reference,
            &body.name,
        )
        .await?;
    Ok(created(format!(
        "/api/v2.0/projects/{project}/repositories/{repository}/artifacts/{reference}/tags/{}",
        body.name
    )))
}

pub async fn delete_tag(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository, _reference, tag)): Path<(String, String, String, String)>,
) -> Result<StatusCode> {
    if tag.is_empty() {
        return Err(RegistryError::bad_request("tag name is empty"));
    }
    reg.distribution
        .delete_tag(
            &caller.who,
            caller.ip.as_deref(),
            &project,
            &decode(&repository),
            &tag,
        )
        .await?;
    Ok(StatusCode::OK)
}
