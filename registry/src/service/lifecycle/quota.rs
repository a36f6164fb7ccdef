//! Project storage quotas (Harbor's `storage_limit` and `/quotas`).
//!
//! **The usage rule.** A project's usage is the sum of the sizes of the distinct
//! blobs (configs, layers) its manifests reference plus the distinct manifests'
//! own bytes: each digest counts once per project however many artifacts or
//! repositories share it. A delete therefore lowers usage at once, and garbage
//! collection (which only removes unreferenced blobs) never changes it. Usage is
//! not kept as a counter but computed by one indexed aggregate in the store, so
//! it is exact after a crash with nothing to recompute.
//!
//! **The checks** (a [`WriteGuard`]): a finished blob upload that would take
//! usage + its size over the limit, and a manifest whose newly counted bytes
//! (its own, if new to the project, plus blobs no manifest of the project
//! references yet) would, are refused with OCI `DENIED` naming the usage, the
//! limit and the size asked for. Concurrent pushes are checked one by one, not
//! reserved: two pushes racing near the limit may both pass (as in Harbor
//! without its Redis quota lock).

use std::collections::HashSet;
use std::sync::Arc;

use super::super::distribution::{Distribution, ManifestWrite, WriteGuard};
use super::super::events::Event;
use crate::auth::Principal;
use crate::auth::rbac::{Action, SystemAction};
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::metadata::identity::PageReq;
use crate::metadata::tag_rules::Quota;
use crate::metadata::{IdentityStore, TagRulesStore, project_segment};
use crate::names::RepoName;
use crate::service::access::Access;

pub struct Quotas {
    store: Arc<dyn TagRulesStore>,
    identity: Arc<dyn IdentityStore>,
    access: Arc<Access>,
    /// Publishes [`Event::QuotaExceeded`] and [`Event::QuotaWarning`] on distribution's
    /// event bus.
    distribution: Arc<Distribution>,
    /// The limit new projects get (`--default-storage-limit`); -1 unlimited.
    default_limit: i64,
    /// Percent of a limit past which a write publishes `QuotaWarning`; 0: never.
    warning_percent: u8,
}

/// A limit as Harbor's API sends it: bytes, or -1 for unlimited.
pub fn check_limit(hard: i64) -> Result<i64> {
    if hard == -1 || hard >= 0 {
        Ok(hard)
    } else {
        Err(RegistryError::bad_request(format!(
            "storage limit {hard}: bytes, or -1 for unlimited"
        )))
    }
}

impl Quotas {
    pub fn new(
        store: Arc<dyn TagRulesStore>,
        identity: Arc<dyn IdentityStore>,
        access: Arc<Access>,
        distribution: Arc<Distribution>,
        default_limit: i64,
    ) -> Self {
        Quotas {
            store,
            identity,
            access,
            distribution,
            default_limit,
            warning_percent: 0,
        }
    }

    /// Publish [`Event::QuotaWarning`] when a write takes a project past `percent` of
    /// its limit (`--quota-warning-percent`; Harbor's default is 85).
    pub fn with_warning_percent(mut self, percent: u8) -> Self {
        self.warning_percent = percent.min(100);
        self
    }

    /// A new project's limit: `storage_limit` when a system administrator gave
    /// one (Harbor ignores it from others), else the default.
    pub async fn init_project(
        &self,
        who: &Principal,
        project_id: i64,
        storage_limit: Option<i64>,
    ) -> Result<()> {
        let hard = match storage_limit {
            Some(l) if who.may_system(SystemAction::ManageQuotas) => check_limit(l)?,
            _ => self.default_limit,
        };
        if hard != -1 {
            self.store.set_storage_limit(project_id, hard).await?;
        }
        Ok(())
    }

    pub async fn list(
        &self,
        who: &Principal,
        project_id: Option<i64>,
        page: PageReq,
    ) -> Result<(Vec<Quota>, i64)> {
        self.access
            .require_system(who, SystemAction::ManageQuotas)?;
        Ok(self.store.quotas(project_id, page).await?)
    }

    /// Every project's storage use (`/metrics`): `(project, bytes)`, a page of projects
    /// per grouped query, at most [`METRICS_PROJECTS`] projects so a scrape stays cheap.
    pub async fn usage_by_project(&self) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for page in 1.. {
            let req = PageReq {
                page,
                page_size: 100,
            };
            let (quotas, total) = self.store.quotas(None, req).await?;
            out.extend(quotas.into_iter().map(|q| (q.project_name, q.used)));
            if out.len() as i64 >= total || out.len() >= METRICS_PROJECTS {
                break;
            }
        }
        out.truncate(METRICS_PROJECTS);
        Ok(out)
    }

    pub async fn get(&self, who: &Principal, id: i64) -> Result<Quota> {
        self.access
            .require_system(who, SystemAction::ManageQuotas)?;
        self.store
            .quota(id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("quota {id} not found")))
    }

    pub async fn set(&self, who: &Principal, ip: Option<&str>, id: i64, hard: i64) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageQuotas)?;
        let hard = check_limit(hard)?;
        let q = self
            .store
            .quota(id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("quota {id} not found")))?;
        self.store.set_storage_limit(id, hard).await?;
        self.access
            .audit(who, "update", "quota", &q.project_name, ip);
        Ok(())
    }

    /// The project's quota as its summary shows it (readable by its members).
    pub async fn of_project(&self, who: &Principal, project: &str) -> Result<(Quota, i64)> {
        let p = self
            .access
            .project_for(who, project, Action::ReadProject)
            .await?;
        let q = self
            .store
            .quota(p.id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("project {project} not found")))?;
        Ok((q, p.repo_count))
    }

    /// Refuse `requested` new bytes in the repository's project if they would
    /// take it over its limit. `counted` are digests already in its usage.
    async fn admit(&self, repo: &RepoName, items: &[(Digest, u64)], what: &str) -> Result<()> {
        let Some(name) = project_segment(repo) else {
            return Ok(());
        };
        let Some(project) = self.identity.project_by_name(name).await? else {
            return Ok(());
        };
        let limit = self.store.storage_limit(project.id).await?;
        if limit < 0 {
            return Ok(());
        }
        let digests: Vec<Digest> = items.iter().map(|(d, _)| d.clone()).collect();
        let counted = self.store.counted(project.id, &digests).await?;
        let mut seen = HashSet::new();
        let requested: u64 = items
            .iter()
            .filter(|(d, _)| !counted.contains(d) && seen.insert(d.clone()))
            .map(|(_, size)| size)
            .sum();
        if requested == 0 {
            return Ok(());
        }
        let used = self.store.usage(project.id).await?;
        let limit = limit as u64;
        let after = used.saturating_add(requested);
        if after <= limit {
            // Past the warning line with this write (not before it): warn once per
            // crossing, not on every push while the project stays above it.
            let line = limit as u128 * self.warning_percent as u128;
            if self.warning_percent > 0
                && (used as u128) * 100 < line
                && (after as u128) * 100 >= line
            {
                self.distribution
                    .events()
                    .publish(&Event::QuotaWarning {
                        project: project.name.clone(),
                        repository: repo.clone(),
                        digest: items.first().map(|(d, _)| d.clone()),
                        used: after,
                        limit,
                        percent: self.warning_percent,
                    })
                    .await;
            }
            return Ok(());
        }
        self.distribution
            .events()
            .publish(&Event::QuotaExceeded {
                project: project.name.clone(),
                repository: repo.clone(),
                used,
                limit,
                requested,
            })
            .await;
        Err(RegistryError::WriteDenied(format!(
            "quota exceeded: project {} uses {used} of its {limit} bytes; {what} needs {requested} more bytes",
            project.name
        )))
    }
}

#[async_trait::async_trait]
impl WriteGuard for Quotas {
    async fn before_blob_commit(&self, repo: &RepoName, digest: &Digest, size: u64) -> Result<()> {
        self.admit(repo, &[(digest.clone(), size)], &format!("blob {digest}"))
            .await
    }

    async fn before_manifest_put(&self, repo: &RepoName, m: &ManifestWrite<'_>) -> Result<()> {
        let mut items = Vec::with_capacity(m.blobs.len() + 1);
        items.push((m.digest.clone(), m.size));
        items.extend(m.blobs.iter().cloned());
        self.admit(repo, &items, &format!("manifest {}", m.digest))
            .await
    }
}

/// Projects whose storage `/metrics` reports (the first ones by id); beyond, the
/// quota API has them.
pub const METRICS_PROJECTS: usize = 1000;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::digest::Digest;
    use crate::error::{ErrorCode, RegistryError};
    use crate::metadata::{IdentityStore, TagRulesStore};
    use crate::names::RepoName;
    use crate::service::events::testing::{Heard, body};
    use crate::service::events::{Event, Subscriber};
    use crate::service::{Options, Services, Stores};

    /// A refused upload is `DENIED` with the figures, keeps nothing, and is told
    /// to subscribers as `QuotaExceeded`.
    #[tokio::test]
    async fn an_upload_over_the_limit_is_refused_and_published() {
        let (_dir, meta, blobs) = crate::service::test_stores().await;
        let services = Services::new(
            Stores::from_backend(meta.clone(), blobs),
            Options {
                max_uploads: 10,
                ..Default::default()
            },
        );
        let heard = Arc::new(Heard::default());
        let subscriber: Arc<dyn Subscriber> = heard.clone();
        services
            .distribution
            .events()
            .subscribe(Arc::downgrade(&subscriber));
        let pid = meta
            .create_project("small", false, None)
            .await
            .unwrap()
            .unwrap();
        meta.set_storage_limit(pid, 10).await.unwrap();
        let repo = RepoName::parse("small/app").unwrap();
        let data: &'static [u8] = b"eleven bytes";
        let digest = Digest::sha256_of(data);
        let err = services
            .distribution
            .upload_monolithic(&repo, &digest, body(data), Some(data.len() as u64), None)
            .await
            .unwrap_err();
        assert_eq!(err.error_code(), Some(ErrorCode::Denied));
        let RegistryError::WriteDenied(msg) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            msg,
            &format!(
                "quota exceeded: project small uses 0 of its 10 bytes; blob {digest} needs 12 more bytes"
            )
        );
        assert_eq!(
            services.distribution.blob_size(&repo, &digest).await.ok(),
            None
        );
        let events = std::mem::take(&mut *heard.0.lock().unwrap());
        assert!(
            matches!(
                &events[..],
                [Event::QuotaExceeded { project, used: 0, limit: 10, requested: 12, .. }] if project == "small"
            ),
            "{events:?}"
        );
        // Raised, the same upload goes through.
        meta.set_storage_limit(pid, 12).await.unwrap();
        services
            .distribution
            .upload_monolithic(&repo, &digest, body(data), Some(data.len() as u64), None)
            .await
            .unwrap();
    }
}
