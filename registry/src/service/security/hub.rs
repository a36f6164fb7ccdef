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

#[cfg(test)]
mod tests {
    use crate::auth::Principal;
    use crate::auth::rbac::Role;
    use crate::digest::Digest;
    use crate::metadata::identity::{NewUser, PageReq};
    use crate::metadata::security::{ScanOutcome, ScanStatus, VulnerabilityReport};
    use crate::metadata::{IdentityStore, SecurityStore};
    use crate::names::{Reference, RepoName};
    use crate::service::events::testing::body;
    use crate::service::{Options, Services, Stores};

    /// The same image in a project the user is in and in a private one they are not:
    /// searching its CVE names only the first to them, both to an administrator.
    #[tokio::test]
    async fn cve_search_keeps_to_the_projects_the_caller_may_read() {
        let (_dir, meta, blobs) = crate::service::test_stores().await;
        let s = Services::new(
            Stores::from_backend(meta.clone(), blobs),
            Options {
                max_uploads: 10,
                ..Default::default()
            },
        );
        let mine = meta
            .create_project("mine", false, None)
            .await
            .unwrap()
            .unwrap();
        meta.create_project("theirs", false, None)
            .await
            .unwrap()
            .unwrap();
        let dev_id = meta
            .create_user(NewUser {
                username: "dev",
                password_hash: "x",
                email: None,
                realname: None,
                sysadmin: false,
            })
            .await
            .unwrap()
            .unwrap();
        meta.add_member(mine, dev_id, Role::Developer.into())
            .await
            .unwrap()
            .unwrap();

        const CONFIG: &[u8] =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": Digest::sha256_of(CONFIG).to_string(), "size": CONFIG.len()},
            "layers": [],
        })
        .to_string();
        let digest = Digest::sha256_of(manifest.as_bytes());
        for project in ["mine", "theirs"] {
            let repo = RepoName::parse(&format!("{project}/app")).unwrap();
            s.distribution
                .upload_monolithic(
                    &repo,
                    &Digest::sha256_of(CONFIG),
                    body(CONFIG),
                    Some(CONFIG.len() as u64),
                    None,
                )
                .await
                .unwrap();
            s.distribution
                .put_manifest(
                    &repo,
                    &Reference::Tag("v1".into()),
                    Some("application/vnd.oci.image.manifest.v1+json"),
                    bytes::Bytes::from(manifest.clone()),
                )
                .await
                .unwrap();
        }
        // A finished scan of that digest with one finding, as the scanner stores it.
        let report: VulnerabilityReport = serde_json::from_value(serde_json::json!({
            "generated_at": 1_700_000_000, "repository": "mine/app", "digest": digest.to_string(), "packages": 1,
            "findings": [{
                "package": {"name": "zlib1g", "version": "1", "ecosystem": "Debian",
                            "purl": "pkg:deb/debian/zlib1g@1", "path": "var/lib/dpkg/status"},
                "advisory": {"id": "CVE-2099-1", "source": "debian", "summary": null, "details": null,
                             "aliases": [], "published": null, "modified": null, "severity": "HIGH",
                             "cvss_v3": null, "cvss_v4": null, "references": []},
                "vulnerability_id": "CVE-2099-1", "fixed_version": null, "status": "affected"
            }]
        }))
        .unwrap();
        let (summary, highest) = report.summary();
        meta.queue_scan(&digest, "mine/app").await.unwrap();
        meta.start_scan(&digest, "test", i64::MAX).await.unwrap();
        meta.finish_scan(
            &digest,
            "test",
            ScanOutcome {
                status: ScanStatus::Success,
                severity: Some(highest),
                summary: Some(&summary),
                report: Some(&report),
                db_version: None,
                message: None,
            },
        )
        .await
        .unwrap();

        let page = PageReq {
            page: 1,
            page_size: 10,
        };
        let repos = |found: (Vec<crate::metadata::security::VulnItem>, i64)| {
            let mut r: Vec<String> = found.0.into_iter().map(|v| v.repository).collect();
            r.sort();
            r
        };
        let dev = Principal::User {
            id: dev_id,
            name: "dev".into(),
            sysadmin: false,
        };
        let found = s
            .security
            .artifacts_with_vulnerability(&dev, "CVE-2099-1", page)
            .await
            .unwrap();
        assert_eq!(repos(found), vec!["mine/app"]);
        let admin = Principal::User {
            id: 1,
            name: "admin".into(),
            sysadmin: true,
        };
        let found = s
            .security
            .artifacts_with_vulnerability(&admin, "CVE-2099-1", page)
            .await
            .unwrap();
        assert_eq!(repos(found), vec!["mine/app", "theirs/app"]);
        // Someone in no project sees nothing, not everything.
        let stranger = Principal::User {
            id: dev_id + 1,
            name: "stranger".into(),
            sysadmin: false,
        };
        let found = s
            .security
            .artifacts_with_vulnerability(&stranger, "CVE-2099-1", page)
            .await
            .unwrap();
        assert!(repos(found).is_empty());
    }
}
