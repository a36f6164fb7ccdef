//! Listings: tags, the catalog and referrers.

use super::Distribution;
use crate::digest::Digest;
use crate::error::{ErrorCode, Result};
use crate::metadata::Referrer;
use crate::names::RepoName;
use crate::service::not_found;

/// Largest page served, whatever `n` asks for.
pub const MAX_PAGE: u32 = 10_000;

/// One page of a lexically ordered listing; `more` says whether a next page exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<String>,
    pub more: bool,
}

fn paged(mut items: Vec<String>, limit: u32) -> Page {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Page { items, more }
}

impl Distribution {
    pub async fn list_tags(
        &self,
        repo: &RepoName,
        n: Option<u32>,
        last: Option<&str>,
    ) -> Result<Page> {
        if !self.meta.repository_exists(repo).await? {
            return Err(not_found(
                ErrorCode::NameUnknown,
                format!("repository {repo}"),
            ));
        }
        let limit = n.unwrap_or(MAX_PAGE).min(MAX_PAGE);
        if limit == 0 {
            return Ok(Page {
                items: vec![],
                more: false,
            });
        }
        Ok(paged(
            self.meta.list_tags(repo, last, limit + 1).await?,
            limit,
        ))
    }

    pub async fn catalog(&self, n: Option<u32>, last: Option<&str>) -> Result<Page> {
        let limit = n.unwrap_or(1000).min(MAX_PAGE);
        if limit == 0 {
            return Ok(Page {
                items: vec![],
                more: false,
            });
        }
        Ok(paged(
            self.meta.list_repositories(last, limit + 1).await?,
            limit,
        ))
    }

    /// Manifests in the repository whose `subject` is `digest`. Unknown
    /// subjects give an empty list, never an error, as the spec requires.
    pub async fn referrers(
        &self,
        repo: &RepoName,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>> {
        Ok(self.meta.referrers(repo, digest, artifact_type).await?)
    }
}
