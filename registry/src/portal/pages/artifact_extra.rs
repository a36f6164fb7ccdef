//! The artifact page's sections on what an image is made of and whether it may be
//! pulled: the packages of its attached SBOM with their licences (searchable), its
//! build history matched to layers, and the pull gate's decision with each rule's
//! result. Each asks one service method.

use maud::{Markup, html};

use super::link_path;
use crate::digest::Digest;
use crate::http::AppState;
use crate::metadata::identity::Project;
use crate::portal::error::PageResult;
use crate::portal::layout::size;
use crate::portal::session::Viewer;
use crate::service::distribution::history::HistoryStep;
use crate::service::{PullExplanation, SbomPackages};

/// Rows shown before the search narrows the package list.
const MAX_PACKAGES: usize = 500;

pub async fn sections(
    reg: &AppState,
    viewer: &Viewer,
    p: &Project,
    repo: &str,
    digest: &Digest,
    search: &str,
    base: &str,
) -> PageResult<Markup> {
    // Three independent reads (the gate's facts, the SBOM blob, the image config):
    // asked at once, so the page waits for the slowest, not the sum.
    let (gate, sbom, history) = tokio::join!(
        reg.security
            .explain_pull(&viewer.who, &p.name, repo, digest),
        reg.security
            .sbom_packages(&viewer.who, &p.name, repo, digest),
        reg.distribution
            .layer_history(&viewer.who, &p.name, repo, digest),
    );
    let gate = gate?;
    Ok(html! {
        (gate_section(&gate, p))
        @match &sbom {
            Ok(s) => (sbom_section(s.as_ref(), p, repo, search, base)),
            Err(e) => section.card #sbom { h2 { "Packages (SBOM)" } p.error { (e.to_string()) } },
        }
        // A config blob that cannot be read costs this section, not the page.
        @match &history {
            Ok(h) => (history_section(h)),
            Err(e) => section.card #history { h2 { "History" } p.error { (e.to_string()) } },
        }
    })
}

fn gate_section(g: &PullExplanation, p: &Project) -> Markup {
    html! {
        section.card #gate {
            h2 { "Pull gate" }
            @if !g.gated {
                p.hint { "Neither vulnerability prevention nor content trust is on in " (p.name) ": every pull is served." }
            } @else if g.exempt {
                p.hint { "Not a container image: the gate does not apply (its subject's, or its children's, decision does)." }
            } @else {
                p {
                    @if g.allowed { span.gate-pass { "Pulls are served" } }
                    @else { span.gate-fail { "Pulls are refused" } }
                    " (project administrators may always pull, to inspect)."
                }
                table.list #gate-rules {
                    caption { "Each rule of the project's gate" }
                    thead { tr { th scope="col" { "Rule" } th scope="col" { "Result" } th scope="col" { "Reason" } } }
                    tbody { @for r in &g.results {
                        tr data-rule=(r.rule) {
                            td { code { (r.rule) } }
                            td { @if r.passed { span.gate-pass { "pass" } } @else { span.gate-fail { "fail" } } }
                            td.wrap { (r.message) }
                        }
                    } }
                }
            }
        }
    }
}

fn sbom_section(
    s: Option<&SbomPackages>,
    p: &Project,
    repo: &str,
    search: &str,
    base: &str,
) -> Markup {
    let needle = search.trim().to_lowercase();
    html! {
        section.card #sbom {
            h2 { "Packages (SBOM)" }
            @match s {
                None => p.empty { "No SBOM attached. Generate one above, turn on SBOM on push, or attach one with "
                    code { "wharf sbom --attach" } "." },
                Some(s) => {
                    @let rows: Vec<_> = s.packages.iter().filter(|pkg| needle.is_empty()
                        || pkg.name.to_lowercase().contains(&needle)
                        || pkg.purl.to_lowercase().contains(&needle)
                        || pkg.licenses.iter().any(|l| l.to_lowercase().contains(&needle))).collect();
                    p { (s.format) " document "
                        a href={"/projects/" (p.name) "/repos/" (link_path(repo)) "/-/" (s.sbom)} { code { (s.sbom.to_string().chars().take(19).collect::<String>()) } }
                        ", " (s.packages.len()) " packages." }
                    form.filters method="get" action=(base) {
                        label for="sbom-q" { "Package or licence" }
                        input #sbom-q type="search" name="sbom" value=(search);
                        button type="submit" { "Search packages" }
                    }
                    table.list #sbom-packages {
                        caption { (rows.len()) " of " (s.packages.len()) " packages"
                            @if rows.len() > MAX_PACKAGES { " (first " (MAX_PACKAGES) " shown: search to narrow)" } }
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Version" } th scope="col" { "Type" } th scope="col" { "Package URL" } th scope="col" { "Licences" } } }
                        tbody { @for pkg in rows.iter().take(MAX_PACKAGES) {
                            tr {
                                td { (pkg.name) }
                                td { code { (pkg.version) } }
                                td { (pkg.purl.strip_prefix("pkg:").and_then(|r| r.split('/').next()).unwrap_or("")) }
                                td { code { (pkg.purl) } }
                                td { @if pkg.licenses.is_empty() { span.muted { "none declared" } } @else { (pkg.licenses.join(", ")) } }
                            }
                        } }
                    }
                }
            }
        }
    }
}

fn history_section(history: &[HistoryStep]) -> Markup {
    html! {
        @if !history.is_empty() {
            section.card #history {
                h2 { "History" }
                table.list #history-steps {
                    caption { "How the image was built, oldest step first" }
                    thead { tr { th scope="col" { "#" } th scope="col" { "Created" } th scope="col" { "Step" } th scope="col" { "Layer" } } }
                    tbody { @for (i, h) in history.iter().enumerate() {
                        tr data-empty=(h.empty_layer) {
                            td.num { (i + 1) }
                            td { (h.created.as_deref().unwrap_or("")) }
                            td.wrap { code { (h.created_by.as_deref().unwrap_or("")) }
                                @if let Some(c) = &h.comment { br; span.muted { (c) } } }
                            td { @match &h.layer {
                                Some((d, sz)) => { code { (d) } " " (size(*sz)) },
                                None => span.muted { @if h.empty_layer { "empty layer" } @else { "—" } },
                            } }
                        }
                    } }
                }
            }
        }
    }
}
