//! An artifact page as both backends read it: one statement whose columns each
//! hold one part of the page as a JSON array (text). The SQL is each backend's
//! own (`with_details` in `postgres.rs`, `with_details!` in `sqlite.rs`); what
//! the columns hold, and how they become `Artifact`s, is here, once.
//!
//! One statement, not one per part: on PostgreSQL each statement is a round
//! trip, and on SQLite each is a hand-off to the connection's thread and back.
//! As six statements (SQLite) or two (PostgreSQL), a page of ten artifacts ran
//! at 1,494 and 1,684 requests/s on the 1,000,000-tag registry; as one, at
//! (docs/design.md, "An artifact page in one statement").
//!
//! The columns, each ordered as shown:
//! - `page`: `[id, digest, media_type, artifact_type, pushed_at, pulled_at,
//!   pull_count]` per manifest, newest first (the list's order).
//! - `sizes`: `[id, total]`, Harbor's size: the manifest, the blobs it
//!   references, and for an index the same for every child, recursively.
//! - `tags`: `[id, name, updated_at]`, by name.
//! - `accessories`: referrers, `[subject, digest, media_type, size,
//!   artifact_type, annotations]`, oldest first.
//! - `cosign`: cosign's `sha256-<hex>.sig|.att|.sbom` tags naming the page's
//!   manifests, `[tag, digest, media_type, size, artifact_type, annotations]`,
//!   by tag.

use super::sqlite::parse_digest;
use super::{Artifact, MetadataError, Referrer, Result};

/// A manifest of the page: id, digest, media type, artifact type, pushed, last
/// pulled, pulls. Its size comes with `sizes`.
type PageRow = (i64, String, String, Option<String>, i64, Option<i64>, i64);

/// A referrer: what it refers to (a subject's digest or a cosign tag), then its
/// digest, media type, size, artifact type and annotations (JSON text).
type ReferrerRow = (String, String, String, i64, Option<String>, Option<String>);

fn referrer_of(r: ReferrerRow) -> Result<(String, Referrer)> {
    let (of, digest, media_type, size, artifact_type, annotations) = r;
    Ok((
        of,
        Referrer {
            digest: parse_digest(&digest)?,
            media_type,
            size: size as u64,
            artifact_type,
            annotations: annotations.and_then(|a| serde_json::from_str(&a).ok()),
        },
    ))
}

/// The page's artifacts, in page order, from its columns (`column` reads one
/// by name from the backend's row).
pub(super) fn artifacts_from(column: impl Fn(&str) -> Result<String>) -> Result<Vec<Artifact>> {
    fn part<T: serde::de::DeserializeOwned>(
        column: &impl Fn(&str) -> Result<String>,
        name: &str,
    ) -> Result<T> {
        serde_json::from_str(&column(name)?)
            .map_err(|e| MetadataError::Corrupt(format!("artifact page ({name}): {e}")))
    }
    let page: Vec<PageRow> = part(&column, "page")?;
    let ids: Vec<i64> = page.iter().map(|p| p.0).collect();
    let mut artifacts = page
        .into_iter()
        .map(
            |(_, digest, media_type, artifact_type, pushed_at, pulled_at, pull_count)| {
                Ok(Artifact {
                    digest: parse_digest(&digest)?,
                    media_type,
                    artifact_type,
                    size: 0,
                    pushed_at,
                    pulled_at,
                    pull_count,
                    tags: Vec::new(),
                    accessories: Vec::new(),
                    cosign_accessories: Vec::new(),
                })
            },
        )
        .collect::<Result<Vec<_>>>()?;
    // `ids[i]` is the manifest of `artifacts[i]`.
    let by_id = |id: i64| ids.iter().position(|&x| x == id);
    for (id, total) in part::<Vec<(i64, i64)>>(&column, "sizes")? {
        if let Some(i) = by_id(id) {
            artifacts[i].size = total as u64;
        }
    }
    for (id, tag, at) in part::<Vec<(i64, String, i64)>>(&column, "tags")? {
        if let Some(i) = by_id(id) {
            artifacts[i].tags.push((tag, at));
        }
    }
    for r in part::<Vec<ReferrerRow>>(&column, "accessories")? {
        let (subject, referrer) = referrer_of(r)?;
        let subject = parse_digest(&subject)?;
        if let Some(a) = artifacts.iter_mut().find(|a| a.digest == subject) {
            a.accessories.push(referrer);
        }
    }
    for r in part::<Vec<ReferrerRow>>(&column, "cosign")? {
        let (tag, referrer) = referrer_of(r)?;
        let hex = tag
            .trim_start_matches("sha256-")
            .split('.')
            .next()
            .unwrap_or_default();
        if let Some(a) = artifacts.iter_mut().find(|a| a.digest.hex() == hex) {
            a.cosign_accessories.push((tag, referrer));
        }
    }
    Ok(artifacts)
}
