//! Repositories and artifacts as the management API shows them: listing,
//! tagging, and deleting an artifact together with its accessories
//! (signatures, SBOMs, attestations that name it as their subject).

use super::Distribution;
use super::guard::Removal;
use crate::auth::Principal;
use crate::auth::rbac::Action;
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::metadata::identity::PageReq;
use crate::metadata::{Artifact, RepoSummary};
use crate::names::{Reference, RepoName, valid_tag};
use crate::service::ProjectScope;

impl Distribution {
    pub fn repo_in(project: &str, repository: &str) -> Result<RepoName> {
        RepoName::parse(&format!("{project}/{repository}"))
            .map_err(|e| RegistryError::bad_request(format!("invalid repository name: {e}")))
    }

    pub async fn project_repositories(
        &self,
        who: &Principal,
        project: &str,
        page: PageReq,
    ) -> Result<(Vec<RepoSummary>, i64)> {
        let p = self
            .access
            .project_for(who, project, Action::ListRepositories)
            .await?;
        Ok(self.meta.list_project_repositories(&p.name, page).await?)
    }

    pub async fn delete_repository(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        repository: &str,
    ) -> Result<()> {
        let p = self
            .access
            .project_for(who, project, Action::DeleteRepository)
            .await?;
        let repo = Self::repo_in(&p.name, repository)?;
        if !self.guards.live().is_empty() {
            let tags = self.all_tags(&repo).await?;
            self.ask_before_delete(&repo, Removal::Repository { tags: &tags })
                .await?;
        }
        if !self.meta.delete_repository(&repo).await? {
            return Err(RegistryError::not_found(format!(
                "repository {repo} not found"
            )));
        }
        self.access
            .audit(who, "delete", "repository", repo.as_str(), ip);
        Ok(())
    }

    /// Every tag of a repository, a page of the store at a time.
    async fn all_tags(&self, repo: &RepoName) -> Result<Vec<String>> {
        let mut tags: Vec<String> = Vec::new();
        loop {
            let page = self
                .meta
                .list_tags(repo, tags.last().map(String::as_str), 1000)
                .await?;
            let done = page.len() < 1000;
            tags.extend(page);
            if done {
                return Ok(tags);
            }
        }
    }

    /// A page of the repository's artifacts, newest first, those `labels` keeps,
    /// if the scope's caller may read artifacts there.
    pub async fn artifacts(
        &self,
        scope: &ProjectScope,
        repository: &str,
        page: PageReq,
        labels: &crate::metadata::labels::LabelMatch,
    ) -> Result<(Vec<Artifact>, i64)> {
        scope.require(Action::ReadArtifacts)?;
        Ok(self
            .meta
            .list_artifacts(
                &Self::repo_in(&scope.project.name, repository)?,
                page,
                labels,
            )
            .await?)
    }

    /// The artifact `who` may do `action` on, by project, repository and tag or digest:
    /// the project checked (a private one the caller cannot see is "not found"), the
    /// repository name built, the reference resolved.
    pub async fn locate(
        &self,
        who: &Principal,
        project: &str,
        repository: &str,
        reference: &str,
        action: Action,
    ) -> Result<(RepoName, Digest)> {
        let p = self.access.project_for(who, project, action).await?;
        let repo = Self::repo_in(&p.name, repository)?;
        let digest = self.resolve(&repo, reference).await?;
        Ok((repo, digest))
    }

    pub async fn resolve(&self, repo: &RepoName, reference: &str) -> Result<Digest> {
        let reference =
            Reference::parse(reference).map_err(|e| RegistryError::bad_request(e.to_string()))?;
        Ok(self
            .get_manifest(repo, &reference, false)
            .await
            .map_err(|_| {
                RegistryError::not_found(format!("artifact {repo}:{reference} not found"))
            })?
            .digest)
    }

    /// One artifact by tag or digest, if the scope's caller may read artifacts there.
    pub async fn artifact(
        &self,
        scope: &ProjectScope,
        repository: &str,
        reference: &str,
    ) -> Result<Artifact> {
        scope.require(Action::ReadArtifacts)?;
        let repo = Self::repo_in(&scope.project.name, repository)?;
        let digest = self.resolve(&repo, reference).await?;
        self.meta
            .artifact(&repo, &digest)
            .await?
            .ok_or_else(|| RegistryError::not_found("artifact not found"))
    }

    /// Delete an artifact, its tags, and its accessories (two levels: a
    /// signature of an SBOM goes too).
    pub async fn delete_artifact(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        repository: &str,
        reference: &str,
    ) -> Result<()> {
        let (repo, digest) = self
            .locate(who, project, repository, reference, Action::DeleteArtifact)
            .await?;
        self.remove_artifact(&repo, &digest).await?;
        self.access
            .audit(who, "delete", "artifact", &format!("{repo}@{digest}"), ip);
        Ok(())
    }

    /// Delete an artifact, its tags and its accessories (two levels: a signature
    /// of an SBOM goes too), once the guards allow every one of them. For callers
    /// that checked access themselves (the management API, retention).
    pub async fn remove_artifact(&self, repo: &RepoName, digest: &Digest) -> Result<()> {
        let mut doomed = vec![digest.clone()];
        for r in self.meta.referrers(repo, digest, None).await? {
            for rr in self.meta.referrers(repo, &r.digest, None).await? {
                doomed.push(rr.digest);
            }
            doomed.push(r.digest);
        }
        for d in &doomed {
            self.ask_before_artifact_delete(repo, d).await?;
        }
        for d in doomed.iter().rev() {
            if self.meta.delete_manifest(repo, d).await? {
                self.events
                    .publish(&super::manifests::deleted_event(
                        repo,
                        &Reference::Digest(d.clone()),
                    ))
                    .await;
            }
        }
        Ok(())
    }

    pub async fn add_tag(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        repository: &str,
        reference: &str,
        tag: &str,
    ) -> Result<()> {
        let p = self
            .access
            .project_for(who, project, Action::CreateTag)
            .await?;
        let repo = Self::repo_in(&p.name, repository)?;
        if !valid_tag(tag) {
            return Err(RegistryError::bad_request(format!("invalid tag {tag:?}")));
        }
        let digest = self.resolve(&repo, reference).await?;
        for guard in self.guards.live() {
            guard.before_tag_add(&repo, tag, &digest).await?;
        }
        if self
            .meta
            .manifest_by_tag(&repo, tag, false)
            .await?
            .is_some()
        {
            return Err(RegistryError::conflict(format!(
                "tag {tag} already exists in {repo}"
            )));
        }
        self.meta.put_tag(&repo, tag, &digest).await?;
        self.access
            .audit(who, "create", "tag", &format!("{repo}:{tag}"), ip);
        Ok(())
    }

    pub async fn delete_tag(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        repository: &str,
        tag: &str,
    ) -> Result<()> {
        let p = self
            .access
            .project_for(who, project, Action::DeleteTag)
            .await?;
        let repo = Self::repo_in(&p.name, repository)?;
        self.ask_before_tag_delete(&repo, tag).await?;
        if !self.meta.delete_tag(&repo, tag).await? {
            return Err(RegistryError::not_found(format!(
                "tag {tag} not found in {repo}"
            )));
        }
        self.events
            .publish(&crate::service::events::Event::TagDeleted {
                repository: repo.clone(),
                tag: tag.to_string(),
            })
            .await;
        self.access
            .audit(who, "delete", "tag", &format!("{repo}:{tag}"), ip);
        Ok(())
    }
}
