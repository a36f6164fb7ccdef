//! The Security Hub: vulnerabilities across every artifact of the registry, from
//! the findings each successful scan indexes ("which images contain CVE-X"), and
//! the registry-wide summary. System administrators only, as in Harbor; the images
//! holding one vulnerability also for everyone else, within the projects they may
//! read the scans of.

use super::Security;
use crate::auth::Principal;
use crate::auth::rbac::{Action, SystemAction};
use crate::error::Result;
use crate::metadata::identity::PageReq;
use crate::metadata::security::{SecuritySummary, VulnItem, VulnQuery};

/// Harbor's `tune_count`: past this many matches the total is reported as -1.
pub const TUNED_COUNT_LIMIT: u64 = 1000;

impl Security {
    /// A page of the findings matching `query`, and how many match in all.
    pub async fn search_vulnerabilities(
        &self,
        who: &Principal,
        query: &VulnQuery,
        page: PageReq,
        with_tags: bool,
        tune_count: bool,
    ) -> Result<(Vec<VulnItem>, i64)> {
        self.access
            .require_system(who, SystemAction::ReadSecurityHub)?;
        let limit = tune_count.then_some(TUNED_COUNT_LIMIT);
        Ok(self
            .store
            .search_vulnerabilities(query, page, with_tags, limit)
            .await?)
    }

    /// The artifacts holding vulnerability `id` (a page, and how many in all), in
    /// every project for those who may read the Security Hub, else only in the
    /// projects whose scans `who` may read: a private project's images are never
    /// named to someone outside it.
    pub async fn artifacts_with_vulnerability(
        &self,
        who: &Principal,
        id: &str,
        page: PageReq,
    ) -> Result<(Vec<VulnItem>, i64)> {
        let mut query = VulnQuery {
            cve_id: Some(id.to_string()),
            ..Default::default()
        };
        if !who.may_system(SystemAction::ReadSecurityHub) {
            query.project_ids = Some(self.readable_projects(who).await?);
        }
        let limit = Some(TUNED_COUNT_LIMIT);
        Ok(self
            .store
            .search_vulnerabilities(&query, page, true, limit)
            .await?)
    }

    /// Ids of the projects whose scan results `who` may read.
    async fn readable_projects(&self, who: &Principal) -> Result<Vec<i64>> {
        let viewer = Some(who.user_id().unwrap_or(-1));
        let mut ids = Vec::new();
        for page in 1.. {
            let req = PageReq {
                page,
                page_size: 100,
            };
            let (projects, total) = self.identity.list_projects(viewer, None, req).await?;
            for p in &projects {
                if self
                    .access
                    .may(who, &p.name, Action::ReadScan)
                    .await?
                    .allowed()
                {
                    ids.push(p.id);
                }
            }
            if projects.is_empty() || i64::from(page) * 100 >= total {
                break;
            }
        }
        Ok(ids)
    }

    pub async fn security_summary(
        &self,
        who: &Principal,
        dangerous: bool,
    ) -> Result<SecuritySummary> {
        self.access
            .require_system(who, SystemAction::ReadSecurityHub)?;
        Ok(self.store.security_summary(dangerous).await?)
    }
}
