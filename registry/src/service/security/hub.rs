//! The Security Hub: vulnerabilities across every artifact of the registry, from
//! the findings each successful scan indexes ("which images contain CVE-X"), and
//! the registry-wide summary. System administrators only, as in Harbor.

use super::Security;
use crate::auth::Principal;
use crate::auth::rbac::SystemAction;
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
