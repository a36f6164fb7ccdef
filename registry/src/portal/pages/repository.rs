//! A repository (`/projects/{p}/repos/{name}`) and an artifact
//! (`/projects/{p}/repos/{name}/-/{digest}`): `-` is never a repository name
//! component, so the path splits unambiguously.
//!
//! The artifact page's scan section refreshes itself while a scan is queued or
//! running (`data-poll`: portal.js fetches the page again and swaps the section),
//! so findings appear without a reload.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;
use wharf_scanner::Severity;

use super::project::{Rights, rights};
use super::{link_path, registry_host};
use crate::auth::rbac::Action;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::http::AppState;
use crate::metadata::identity::{PageReq, Project};
use crate::metadata::security::{ScanRecord, ScanStatus, VulnerabilityReport};
use crate::metadata::{Artifact, Referrer};
use crate::names::Reference;
use crate::portal::error::PageResult;
use crate::portal::layout::{self, project_tabs, size};
use crate::portal::session::{Checked, Viewer};
use crate::service::Distribution;

/// `name` or `name/-/digest`.
fn split(rest: &str) -> (&str, Option<&str>) {
    match rest.split_once("/-/") {
        Some((repo, digest)) => (repo, Some(digest)),
        None => (rest.trim_end_matches('/'), None),
    }
}

#[derive(Deserialize, Default)]
pub struct ArtifactQuery {
    /// Findings of this severity or higher.
    #[serde(default)]
    severity: String,
    /// Only findings with a fix.
    #[serde(default)]
    fixable: String,
    /// Package name contains.
    #[serde(default)]
    package: String,
    /// SBOM packages whose name, Package URL or licence contains this.
    #[serde(default)]
    sbom: String,
    /// `severity` (default), `package` or `id`.
    #[serde(default)]
    sort: String,
    page: Option<u32>,
}

pub async fn show(
    State(reg): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((project, rest)): Path<(String, String)>,
    Query(q): Query<ArtifactQuery>,
) -> PageResult {
    let p = reg
        .access
        .project_for(&viewer.who, &project, Action::ReadArtifacts)
        .await?;
    let rights = rights(&reg, &viewer, &p.name).await?;
    let (repo, digest) = split(&rest);
    let body = match digest {
        None => repository(&reg, &viewer, &p, &rights, repo, &headers, q.page).await?,
        Some(d) => artifact(&reg, &viewer, &p, &rights, repo, d, &headers, &q).await?,
    };
    let title = format!("{}/{repo}", p.name);
    Ok(Html(layout::page(&viewer, &title, body).into_string()).into_response())
}

fn crumbs(p: &Project, rights: &Rights, repo: &str, digest: Option<&str>) -> Markup {
    html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/projects" { "Projects" } " / "
            a href={"/projects/" (p.name)} { (p.name) } " / "
            @if digest.is_some() { a href={"/projects/" (p.name) "/repos/" (link_path(repo))} { (repo) } " / " }
        }
        (project_tabs(&p.name, "", &rights.tabs))
    }
}

/// What is attached to an artifact, by kind, for the badges.
#[derive(Default)]
struct Badges {
    signed: bool,
    sbom: bool,
    attested: bool,
}

fn badges(accessories: &[Referrer]) -> Badges {
    let mut b = Badges::default();
    for a in accessories {
        let t = a.artifact_type.as_deref().unwrap_or(&a.media_type);
        if t.contains("spdx") || t.contains("cyclonedx") || t.contains("sbom") {
            b.sbom = true;
        } else if t.contains("in-toto") || t.contains("dsse") || t.contains("attestation") {
            b.attested = true;
        } else if t.contains("sig") || t.contains("sigstore") {
            b.signed = true;
        }
    }
    b
}

impl Badges {
    fn with(mut self, other: Option<&Badges>) -> Badges {
        if let Some(o) = other {
            self.signed |= o.signed;
            self.sbom |= o.sbom;
            self.attested |= o.attested;
        }
        self
    }
}

/// `sha256-<hex>.sig` → (`sha256:<hex>`, `sig`): cosign's tag for an accessory.
fn cosign_tag(tag: &str) -> Option<(String, &str)> {
    let (name, kind) = tag.rsplit_once('.')?;
    let hex = name.strip_prefix("sha256-")?;
    (matches!(kind, "sig" | "att" | "sbom")
        && hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    .then(|| (format!("sha256:{hex}"), kind))
}

fn badge_row(b: &Badges) -> Markup {
    html! {
        @if b.signed { span.badge.ok { "signed" } " " }
        @if b.sbom { span.badge.info { "SBOM" } " " }
        @if b.attested { span.badge.info { "attested" } }
    }
}

/// Counts by severity as a bar: one segment per severity, widths by share.
fn severity_bar(rec: Option<&ScanRecord>) -> Markup {
    let Some(rec) = rec else {
        return html! { span.muted { "not scanned" } };
    };
    match (rec.status, &rec.summary) {
        (ScanStatus::Success, Some(s)) if s.total == 0 => {
            html! { span.badge.ok { "no vulnerabilities" } }
        }
        (ScanStatus::Success, Some(s)) => {
            let parts: Vec<(Severity, u64)> = Severity::ALL
                .iter()
                .rev()
                .filter_map(|sev| s.by_severity.get(sev).map(|n| (*sev, *n)))
                .filter(|(_, n)| *n > 0)
                .collect();
            let label = parts
                .iter()
                .map(|(sev, n)| format!("{n} {}", sev.as_str().to_lowercase()))
                .collect::<Vec<_>>()
                .join(", ");
            html! {
                span.sevbar role="img" aria-label=(label) title=(label) {
                    @for (sev, n) in &parts {
                        span class={"seg sev-" (sev.as_str().to_lowercase())} data-weight=(((n * 100) / s.total.max(1)).max(1)) {}
                    }
                }
                " " (s.total) " (" (s.fixable) " fixable)"
            }
        }
        (status, _) => html! { span.status data-status=(status.as_str()) { (status.as_str()) } },
    }
}

#[allow(clippy::too_many_arguments)]
async fn repository(
    reg: &AppState,
    viewer: &Viewer,
    p: &Project,
    rights: &Rights,
    repo: &str,
    headers: &HeaderMap,
    page: Option<u32>,
) -> PageResult<Markup> {
    let page = PageReq {
        page: page.unwrap_or(1).max(1),
        page_size: 50,
    };
    let scope = reg.access.scope(&viewer.who, &p.name).await?;
    let (listed, total) = reg
        .distribution
        .artifacts(&scope, repo, page, &Default::default())
        .await?;
    // cosign's tag-schema accessories (`sha256-<hex>.sig`, `.att`, `.sbom`) are shown
    // as badges of their subject: the store lists them with it, not as artifacts of
    // their own (as Harbor does).
    let mut tagged: HashMap<String, Badges> = HashMap::new();
    for a in &listed {
        for (tag, _) in &a.cosign_accessories {
            let Some((_, kind)) = cosign_tag(tag) else {
                continue;
            };
            let b = tagged.entry(a.digest.to_string()).or_default();
            match kind {
                "sig" => b.signed = true,
                "att" => b.attested = true,
                _ => b.sbom = true,
            }
        }
    }
    let artifacts = listed;
    // An index lists its platforms under it (its children are not artifacts of their own).
    let repo_name = Distribution::repo_in(&p.name, repo)?;
    let mut platforms: HashMap<Digest, Vec<(String, String)>> = HashMap::new();
    for a in artifacts.iter().filter(|a| is_index(&a.media_type)) {
        let m = reg
            .distribution
            .get_manifest(&repo_name, &Reference::Digest(a.digest.clone()), true)
            .await?;
        platforms.insert(
            a.digest.clone(),
            contents(m.content.as_deref().unwrap_or_default()).children,
        );
    }
    // Untagged children of an index on this page are listed under it, not again as rows.
    let children: std::collections::HashSet<&str> = platforms
        .values()
        .flatten()
        .map(|(d, _)| d.as_str())
        .collect();
    let artifacts: Vec<Artifact> = artifacts
        .iter()
        .filter(|a| !(a.tags.is_empty() && children.contains(a.digest.to_string().as_str())))
        .cloned()
        .collect();
    let digests: Vec<Digest> = artifacts.iter().map(|a| a.digest.clone()).collect();
    let scans = reg
        .security
        .scan_overviews_for(&scope, &digests)
        .await
        .unwrap_or_default();
    // Harbor's labels, shown with the tags (the page's in one query).
    let labels = reg
        .labels
        .of_artifacts(&repo_name, &digests)
        .await
        .unwrap_or_default();
    let host = registry_host(headers);
    Ok(html! {
        (crumbs(p, rights, repo, None))
        h1 { (p.name) "/" (repo) }
        p { "Pull with " code { "docker pull " (host) "/" (p.name) "/" (repo) ":TAG" } }
        table.list {
            caption { (total) " artifact" @if total != 1 { "s" } }
            thead { tr {
                th scope="col" { "Digest" } th scope="col" { "Tags" } th scope="col" { "Size" }
                th scope="col" { "Vulnerabilities" } th scope="col" { "Attached" }
                th scope="col" { "Pushed" } th scope="col" { "Pulled" }
            } }
            tbody {
                @for a in &artifacts {
                    tr {
                        td { a href={"/projects/" (p.name) "/repos/" (link_path(repo)) "/-/" (a.digest)} { code { (short(&a.digest)) } }
                            @if is_index(&a.media_type) { " " span.badge { "multi-arch" } }
                            @if let Some(children) = platforms.get(&a.digest) {
                                ul.platforms aria-label="Platforms" { @for (d, platform) in children {
                                    li { a href={"/projects/" (p.name) "/repos/" (link_path(repo)) "/-/" (d)} { (if platform.is_empty() { "unknown platform" } else { platform.as_str() }) } }
                                } }
                            } }
                        td { @for (t, _) in &a.tags { span.tag { (t) } " " }
                            @for l in labels.get(&a.digest).into_iter().flatten() {
                                span.badge title=(l.description) { "label: " (l.name) } " "
                            } }
                        td.num { (size(a.size)) }
                        td { (severity_bar(scans.get(&a.digest))) }
                        td { (badge_row(&badges(&a.accessories).with(tagged.get(&a.digest.to_string())))) }
                        td { (layout::time(a.pushed_at)) }
                        td { @match a.pulled_at { Some(t) => (layout::time(t)), None => "never" } }
                    }
                }
            }
        }
        @if total > 50 {
            nav.pager aria-label="Pages" {
                @for n in 1..=(total as u32).div_ceil(50) {
                    @if n == page.page { span aria-current="page" { (n) } }
                    @else { a href={"/projects/" (p.name) "/repos/" (link_path(repo)) "?page=" (n)} { (n) } }
                }
            }
        }
    })
}

fn is_index(media_type: &str) -> bool {
    media_type.contains("index") || media_type.contains("manifest.list")
}

fn short(d: &Digest) -> String {
    let s = d.to_string();
    s.chars().take(19).collect()
}

/// A manifest's layers, or an index's children, as the page lists them.
struct Contents {
    layers: Vec<(String, String, u64)>,
    children: Vec<(String, String)>,
}

fn contents(body: &[u8]) -> Contents {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let str_of = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let layers = v["layers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        str_of(l, "digest"),
                        str_of(l, "mediaType"),
                        l["size"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let children = v["manifests"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    let pl = &m["platform"];
                    let platform = [
                        str_of(pl, "os"),
                        str_of(pl, "architecture"),
                        str_of(pl, "variant"),
                    ]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("/");
                    (str_of(m, "digest"), platform)
                })
                .collect()
        })
        .unwrap_or_default();
    Contents { layers, children }
}

#[allow(clippy::too_many_arguments)]
async fn artifact(
    reg: &AppState,
    viewer: &Viewer,
    p: &Project,
    rights: &Rights,
    repo: &str,
    digest: &str,
    headers: &HeaderMap,
    q: &ArtifactQuery,
) -> PageResult<Markup> {
    // The project and the viewer's roles in it, read once for every check below.
    let scope = reg.access.scope(&viewer.who, &p.name).await?;
    let a: Artifact = reg.distribution.artifact(&scope, repo, digest).await?;
    let repo_name = Distribution::repo_in(&p.name, repo)?;
    let manifest = reg
        .distribution
        .get_manifest(&repo_name, &Reference::Digest(a.digest.clone()), true)
        .await?;
    let contents = contents(manifest.content.as_deref().unwrap_or_default());
    let record = reg
        .security
        .scan_overviews_for(&scope, std::slice::from_ref(&a.digest))
        .await?
        .remove(&a.digest);
    let report = match record.as_ref().map(|r| r.status) {
        Some(ScanStatus::Success) => {
            reg.security
                .vulnerability_report(&viewer.who, &p.name, repo, digest)
                .await?
        }
        _ => None,
    };
    let signatures = reg.security.signatures(&scope, repo, &a.digest).await?;
    let found = badges(&a.accessories).with(Some(&Badges {
        signed: signatures.iter().any(|s| s.kind != "attestation"),
        attested: signatures.iter().any(|s| s.kind == "attestation"),
        sbom: false,
    }));
    let host = registry_host(headers);
    let pull = format!("docker pull {host}/{}/{repo}@{}", p.name, a.digest);
    let base = format!(
        "/projects/{}/repos/{}/-/{}",
        p.name,
        link_path(repo),
        a.digest
    );
    Ok(html! {
        (crumbs(p, rights, repo, Some(digest)))
        h1 { (repo) " " code.digest { (short(&a.digest)) } }
        p { @for (t, _) in &a.tags { span.tag { (t) } " " } (badge_row(&found)) }
        div.copy {
            label for="pull" { "Pull by digest" }
            input #pull readonly value=(pull);
            button type="button" data-copy="pull" { "Copy" }
        }
        dl.facts {
            dt { "Digest" } dd { code { (a.digest) } }
            dt { "Media type" } dd { code { (a.media_type) } }
            dt { "Size" } dd { (size(a.size)) }
            dt { "Pushed" } dd { (layout::time(a.pushed_at)) }
            dt { "Pulled" } dd { @match a.pulled_at { Some(t) => { (layout::time(t)) " (" (a.pull_count) " pulls)" }, None => "never" } }
        }
        @if rights.scan {
            form.actions method="post" action=(base) data-refresh="scan" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                button type="submit" name="action" value="scan" { "Scan now" }
                " "
                button type="submit" name="action" value="sbom" { "Generate SBOM" }
            }
        }
        @if rights.delete {
            form.actions method="post" action=(base) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                button.danger type="submit" name="action" value="delete" { "Delete artifact" }
            }
        }
        (scan_section(record.as_ref(), report.as_ref(), q, &base))
        @if !contents.children.is_empty() {
            section.card {
                h2 { "Platforms" }
                ul { @for (d, platform) in &contents.children {
                    li { a href={"/projects/" (p.name) "/repos/" (link_path(repo)) "/-/" (d)} { code { (d.chars().take(19).collect::<String>()) } } " " (platform) }
                } }
            }
        }
        @if !contents.layers.is_empty() {
            section.card {
                h2 { "Layers" }
                table.list {
                    thead { tr { th scope="col" { "#" } th scope="col" { "Digest" } th scope="col" { "Media type" } th scope="col" { "Size" } } }
                    tbody { @for (i, (d, mt, sz)) in contents.layers.iter().enumerate() {
                        tr { td.num { (i + 1) } td { code { (d) } } td { code { (mt) } } td.num { (size(*sz)) } }
                    } }
                }
            }
        }
        (super::artifact_extra::sections(reg, viewer, p, repo, &a.digest, &q.sbom, &base).await?)
        section.card #signatures {
            h2 { "Signatures and attestations" }
            @if signatures.is_empty() {
                p.empty { "Not signed. Sign it with " code { "wharf sign --key cosign.key " (host) "/" (p.name) "/" (repo) "@" (a.digest) } }
            } @else {
                table.list {
                    thead { tr { th scope="col" { "Kind" } th scope="col" { "Where" } th scope="col" { "Signed by" } th scope="col" { "Verified" } } }
                    tbody { @for s in &signatures {
                        tr {
                            td { (s.kind) @if let Some(pt) = &s.predicate_type { br; code { (pt) } } }
                            td { code { (s.source) } }
                            td {
                                @if let Some(k) = &s.key_fingerprint { "key " code { (k) } }
                                @if let Some(id) = s.verified_identity.as_ref().or(s.certificate_identity.as_ref()) { (format!("{id:?}")) }
                            }
                            td { @if s.verified { span.badge.ok { "verified" } } @else { span.badge.warn { "not verified" } " " (s.reason.as_deref().unwrap_or("")) } }
                        }
                    } }
                }
            }
        }
        section.card #referrers {
            h2 { "Referrers" }
            @if a.accessories.is_empty() { p.empty { "Nothing refers to this artifact." } }
            @else {
                ul.tree { @for r in &a.accessories {
                    li { code { (r.artifact_type.as_deref().unwrap_or(&r.media_type)) } " "
                        a href={"/projects/" (p.name) "/repos/" (link_path(repo)) "/-/" (r.digest)} { code { (short(&r.digest)) } }
                        " " (size(r.size)) }
                } }
            }
        }
    })
}

/// Findings after the page's filters, in its order.
fn filtered<'a>(
    report: &'a VulnerabilityReport,
    q: &ArtifactQuery,
) -> Vec<&'a wharf_scanner::matcher::Finding> {
    let min = Severity::lenient(&q.severity);
    let package = q.package.trim().to_lowercase();
    let mut rows: Vec<_> = report
        .findings
        .iter()
        .filter(|f| q.severity.is_empty() || f.severity() >= min)
        .filter(|f| q.fixable.is_empty() || f.fixed_version.is_some())
        .filter(|f| package.is_empty() || f.package.name.to_lowercase().contains(&package))
        .collect();
    match q.sort.as_str() {
        "package" => rows.sort_by(|a, b| a.package.name.cmp(&b.package.name)),
        "id" => rows.sort_by(|a, b| a.vulnerability_id.cmp(&b.vulnerability_id)),
        _ => rows.sort_by(|a, b| {
            b.severity()
                .cmp(&a.severity())
                .then_with(|| a.vulnerability_id.cmp(&b.vulnerability_id))
        }),
    }
    rows
}

fn scan_section(
    record: Option<&ScanRecord>,
    report: Option<&VulnerabilityReport>,
    q: &ArtifactQuery,
    base: &str,
) -> Markup {
    let busy =
        record.is_some_and(|r| matches!(r.status, ScanStatus::Pending | ScanStatus::Running));
    let sort_link = |key: &str| {
        let mut s = form_query(q);
        s.insert("sort", key.to_string());
        format!(
            "{base}?{}",
            serde_urlencoded::to_string(&s).unwrap_or_default()
        )
    };
    html! {
        section.card #scan data-poll=[busy.then_some("2000")] aria-live="polite" {
            h2 { "Vulnerabilities" }
            @match (record, report) {
                (None, _) => { p.empty { "Not scanned yet." } }
                (Some(r), _) if busy => {
                    p { span.status data-status=(r.status.as_str()) { "Scan " (r.status.as_str().to_lowercase()) "…" } " Findings appear here when it ends." }
                    progress aria-label="scan in progress" {}
                }
                (Some(r), None) => {
                    p.error { "Scan " (r.status.as_str().to_lowercase()) ": " (r.message.as_deref().unwrap_or("no report")) }
                }
                (Some(r), Some(report)) => {
                    @let rows = filtered(report, q);
                    p { (severity_bar(Some(r))) " · " (report.packages) " packages · scanned " (layout::time(report.generated_at))
                        @if let Some(db) = &r.db_version { " · DB " (db) } }
                    form.filters method="get" action=(base) {
                        label for="f-sev" { "Severity at least" }
                        select #f-sev name="severity" data-autosubmit {
                            option value="" selected[q.severity.is_empty()] { "any" }
                            @for sev in ["critical", "high", "medium", "low", "unknown"] {
                                option value=(sev) selected[q.severity.eq_ignore_ascii_case(sev)] { (sev) }
                            }
                        }
                        label { input type="checkbox" name="fixable" value="1" checked[!q.fixable.is_empty()] data-autosubmit; " fixable only" }
                        label for="f-pkg" { "Package" }
                        input #f-pkg type="search" name="package" value=(q.package);
                        input type="hidden" name="sort" value=(q.sort);
                        button type="submit" { "Filter" }
                    }
                    table.list #findings {
                        caption { (rows.len()) " of " (report.findings.len()) " findings" }
                        thead { tr {
                            th scope="col" aria-sort=[(q.sort == "id").then_some("ascending")] { a href=(sort_link("id")) { "Vulnerability" } }
                            th scope="col" aria-sort=[(q.sort.is_empty() || q.sort == "severity").then_some("descending")] { a href=(sort_link("severity")) { "Severity" } }
                            th scope="col" aria-sort=[(q.sort == "package").then_some("ascending")] { a href=(sort_link("package")) { "Package" } }
                            th scope="col" { "Installed" } th scope="col" { "Fixed in" }
                        } }
                        tbody {
                            @for f in &rows {
                                @let sev = f.severity().as_str().to_lowercase();
                                tr data-severity=(sev) {
                                    td { @match advisory_link(f) {
                                        Some(url) => a href=(url) rel="noopener noreferrer" { (f.vulnerability_id) },
                                        None => (f.vulnerability_id),
                                    } }
                                    td { span class={"sev sev-" (sev)} { (sev) } }
                                    td { (f.package.name) }
                                    td { code { (f.package.version) } }
                                    td { @match &f.fixed_version { Some(v) => code { (v) }, None => span.muted { (f.status.replace('_', " ")) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn form_query(q: &ArtifactQuery) -> HashMap<&'static str, String> {
    let mut m = HashMap::new();
    for (k, v) in [
        ("severity", &q.severity),
        ("fixable", &q.fixable),
        ("package", &q.package),
    ] {
        if !v.is_empty() {
            m.insert(k, v.clone());
        }
    }
    m
}

/// The advisory's own page: its first web reference, else its OSV record.
fn advisory_link(f: &wharf_scanner::matcher::Finding) -> Option<String> {
    f.advisory
        .references
        .iter()
        .find(|r| r.kind == "ADVISORY" || r.kind == "WEB")
        .or_else(|| f.advisory.references.first())
        .map(|r| r.url.clone())
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .or_else(|| Some(format!("https://osv.dev/vulnerability/{}", f.advisory.id)))
}

#[derive(Deserialize)]
pub struct ActForm {
    action: String,
}

pub async fn act(
    State(reg): State<AppState>,
    Path((project, rest)): Path<(String, String)>,
    c: Checked<ActForm>,
) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let (repo, Some(digest)) = split(&rest) else {
        return Err(RegistryError::bad_request("no artifact named").into());
    };
    match f.action.as_str() {
        "scan" | "sbom" => {
            reg.security
                .scan_artifact(
                    &v.who,
                    v.ip.as_deref(),
                    &project,
                    repo,
                    digest,
                    f.action == "sbom",
                )
                .await?;
        }
        "delete" => {
            reg.distribution
                .delete_artifact(&v.who, v.ip.as_deref(), &project, repo, digest)
                .await?;
            return Ok(
                Redirect::to(&format!("/projects/{project}/repos/{}", link_path(repo)))
                    .into_response(),
            );
        }
        other => {
            return Err(RegistryError::bad_request(format!("unknown action {other:?}")).into());
        }
    }
    Ok(Redirect::to(&format!(
        "/projects/{project}/repos/{}/-/{digest}",
        link_path(repo)
    ))
    .into_response())
}
