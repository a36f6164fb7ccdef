//! Harbor's project settings (`metadata`: auto_scan, prevent_vul, severity,
//! content trust, …) and CVE allow-lists, system-wide and per project.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Security;
use super::keyless_trust::{TRUSTED_IDENTITIES, parse_identities};
use crate::auth::Principal;
use crate::auth::rbac::{Action, RoleId, SystemAction};
use crate::error::{RegistryError, Result};
use crate::metadata::identity::Project;
use crate::metadata::security::Allowlist;

/// Settings a project may carry, and the values each accepts.
const KEYS: &[(&str, &[&str])] = &[
    ("auto_scan", &["true", "false"]),
    ("prevent_vul", &["true", "false"]),
    ("severity", &["none", "low", "medium", "high", "critical"]),
    ("reuse_sys_cve_allowlist", &["true", "false"]),
    ("enable_content_trust", &["true", "false"]),
    ("enable_content_trust_cosign", &["true", "false"]),
    ("auto_sbom_generation", &["true", "false"]),
];

/// Wharf's extension: PEM public keys whose cosign signatures satisfy content trust.
pub const TRUSTED_KEYS: &str = "wharf_trusted_keys";

/// How long a project's settings are reused by the pull path before re-reading.
const CACHE_TTL: Duration = Duration::from_secs(2);

/// A project's security settings, read from its stored `metadata` once (values were
/// validated when written), for the rules that act on them: scan and SBOM on push, the
/// pull gate, signature verification.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectSettings {
    pub auto_scan: bool,
    pub auto_sbom_generation: bool,
    /// Harbor's "prevent vulnerable images from running".
    pub prevent_vul: bool,
    /// Pulls with vulnerabilities of this severity or higher are prevented (Harbor's
    /// `severity`: none, low, medium, high, critical; `low` when unset).
    pub severity: String,
    /// Use the system CVE allow-list instead of the project's (Harbor's default: yes).
    pub reuse_sys_cve_allowlist: bool,
    /// Content trust: `enable_content_trust_cosign` or `enable_content_trust`.
    pub content_trust: bool,
    /// PEM public keys whose signatures satisfy content trust.
    pub trusted_keys: Vec<String>,
    /// Keyless identities whose signatures satisfy content trust (with a trusted root).
    pub trusted_identities: Vec<super::keyless_trust::TrustedIdentity>,
}

impl Default for ProjectSettings {
    fn default() -> Self {
        ProjectSettings::from_metadata(&BTreeMap::new())
    }
}

impl ProjectSettings {
    /// The typed view of a project's `metadata` map.
    pub fn from_metadata(m: &BTreeMap<String, String>) -> Self {
        let on = |k: &str| m.get(k).is_some_and(|v| v == "true");
        ProjectSettings {
            auto_scan: on("auto_scan"),
            auto_sbom_generation: on("auto_sbom_generation"),
            prevent_vul: on("prevent_vul"),
            severity: m
                .get("severity")
                .cloned()
                .unwrap_or_else(|| "low".to_string()),
            reuse_sys_cve_allowlist: m.get("reuse_sys_cve_allowlist").is_none_or(|v| v == "true"),
            content_trust: on("enable_content_trust_cosign") || on("enable_content_trust"),
            trusted_keys: m
                .get(TRUSTED_KEYS)
                .map(|k| split_pem_keys(k))
                .unwrap_or_default(),
            trusted_identities: m
                .get(TRUSTED_IDENTITIES)
                .and_then(|v| parse_identities(v).ok())
                .unwrap_or_default(),
        }
    }
}

pub type Settings = Arc<ProjectSettings>;

/// What project listings show beside each project, by project id.
#[derive(Debug, Default)]
pub struct ProjectExtras {
    pub metadata: HashMap<i64, BTreeMap<String, String>>,
    pub allowlists: HashMap<i64, Allowlist>,
    pub roles: HashMap<i64, RoleId>,
}

#[derive(Default)]
pub(crate) struct SettingsCache(
    std::sync::Mutex<std::collections::HashMap<String, (Instant, Settings)>>,
);

impl Security {
    /// A project's settings by name, cached briefly: the pull gate reads them on every manifest GET.
    pub async fn project_settings(&self, project: &str) -> Result<Settings> {
        if let Ok(cache) = self.settings_cache.0.lock()
            && let Some((at, s)) = cache.get(project)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(s.clone());
        }
        let settings = match self.identity.project_by_name(project).await? {
            Some(p) => Arc::new(ProjectSettings::from_metadata(
                &self.store.project_metadata(p.id).await?,
            )),
            None => Settings::default(),
        };
        if let Ok(mut cache) = self.settings_cache.0.lock() {
            cache.insert(project.to_string(), (Instant::now(), settings.clone()));
        }
        Ok(settings)
    }

    /// Settings as the management API shows them (no access check: the caller did it).
    pub async fn project_metadata(&self, project_id: i64) -> Result<BTreeMap<String, String>> {
        Ok(self.store.project_metadata(project_id).await?)
    }

    /// Validates and stores settings; unknown keys and values are refused, not ignored.
    pub async fn update_project_settings(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        values: BTreeMap<String, String>,
    ) -> Result<()> {
        let p = self
            .access
            .project_for(who, project, Action::UpdateProject)
            .await?;
        for (k, v) in &values {
            if k == TRUSTED_KEYS {
                validate_keys(v)?;
                continue;
            }
            if k == TRUSTED_IDENTITIES {
                let ids = parse_identities(v)?;
                if !ids.is_empty() && self.keyless_root.is_none() {
                    return Err(RegistryError::bad_request(format!(
                        "{TRUSTED_IDENTITIES}: this server has no Sigstore trusted root to verify certificates with (start it with --trusted-root)"
                    )));
                }
                continue;
            }
            let Some((_, allowed)) = KEYS.iter().find(|(key, _)| key == k) else {
                let known: Vec<&str> = KEYS
                    .iter()
                    .map(|(k, _)| *k)
                    .chain([TRUSTED_KEYS, TRUSTED_IDENTITIES])
                    .collect();
                return Err(RegistryError::bad_request(format!(
                    "unknown project setting {k:?}; known: {}",
                    known.join(", ")
                )));
            };
            if !allowed.contains(&v.as_str()) {
                return Err(RegistryError::bad_request(format!(
                    "metadata.{k} must be one of {}, not {v:?}",
                    allowed.join(", ")
                )));
            }
        }
        self.store.set_project_metadata(p.id, &values).await?;
        if let Ok(mut cache) = self.settings_cache.0.lock() {
            cache.remove(&p.name);
        }
        self.access.audit(who, "update", "project", &p.name, ip);
        Ok(())
    }

    /// Settings, allow-list and the caller's role for a page of projects: three queries for
    /// the page, not three per project.
    pub async fn project_extras(
        &self,
        who: &Principal,
        projects: &[Project],
    ) -> Result<ProjectExtras> {
        let ids: Vec<i64> = projects.iter().map(|p| p.id).collect();
        let scopes: Vec<String> = ids.iter().map(|id| format!("project:{id}")).collect();
        let mut allowlists = self.store.allowlists(&scopes).await?;
        Ok(ProjectExtras {
            metadata: self.store.project_metadata_many(&ids).await?,
            allowlists: ids
                .iter()
                .filter_map(|id| Some((*id, allowlists.remove(&format!("project:{id}"))?)))
                .collect(),
            roles: match who.user_id() {
                Some(uid) => self.identity.member_roles(uid, &ids).await?,
                None => HashMap::new(),
            },
        })
    }

    pub async fn project_allowlist(&self, project_id: i64) -> Result<Allowlist> {
        Ok(self
            .store
            .allowlist(&format!("project:{project_id}"))
            .await?
            .unwrap_or_default())
    }

    pub async fn set_project_allowlist(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        items: Vec<String>,
        expires_at: Option<i64>,
    ) -> Result<()> {
        let p = self
            .access
            .project_for(who, project, Action::UpdateProject)
            .await?;
        let items = validate_cves(items)?;
        self.store
            .set_allowlist(&format!("project:{}", p.id), &items, expires_at)
            .await?;
        self.access
            .audit(who, "update", "cve_allowlist", &p.name, ip);
        Ok(())
    }

    pub async fn system_allowlist(&self) -> Result<Allowlist> {
        Ok(self.store.allowlist("system").await?.unwrap_or_default())
    }

    pub async fn set_system_allowlist(
        &self,
        who: &Principal,
        ip: Option<&str>,
        items: Vec<String>,
        expires_at: Option<i64>,
    ) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageSecuritySettings)?;
        let items = validate_cves(items)?;
        self.store
            .set_allowlist("system", &items, expires_at)
            .await?;
        self.access
            .audit(who, "update", "cve_allowlist", "system", ip);
        Ok(())
    }

    /// The CVE IDs that apply to `project` now: the system list when the project
    /// reuses it (Harbor's default), else the project's own.
    pub async fn effective_allowlist(
        &self,
        project: &str,
        settings: &ProjectSettings,
    ) -> Result<Vec<String>> {
        let now = crate::metadata::now();
        let list = if settings.reuse_sys_cve_allowlist {
            self.system_allowlist().await?
        } else {
            match self.identity.project_by_name(project).await? {
                Some(p) => self.project_allowlist(p.id).await?,
                None => Allowlist::default(),
            }
        };
        Ok(list.active(now).to_vec())
    }
}

fn validate_cves(items: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for id in items {
        let id = id.trim().to_string();
        let ok = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| {
                b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' || b == b':'
            });
        if !ok {
            return Err(RegistryError::bad_request(format!(
                "{id:?} is not a vulnerability ID (like CVE-2024-1234 or GHSA-xxxx-xxxx-xxxx)"
            )));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Trusted keys are PEM public keys, concatenated; each must parse.
fn validate_keys(pems: &str) -> Result<()> {
    let keys = split_pem_keys(pems);
    if keys.is_empty() && !pems.trim().is_empty() {
        return Err(RegistryError::bad_request(format!(
            "{TRUSTED_KEYS}: no PEM public key found"
        )));
    }
    for (i, k) in keys.iter().enumerate() {
        wharf_signer::keys::load_public_key(k).map_err(|e| {
            RegistryError::bad_request(format!("{TRUSTED_KEYS}: key {}: {e}", i + 1))
        })?;
    }
    Ok(())
}

/// Each `-----BEGIN … -----END …-----` block of `text`.
pub fn split_pem_keys(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            cur = Some(String::new());
        }
        if let Some(c) = cur.as_mut() {
            c.push_str(line);
            c.push('\n');
        }
        if line.starts_with("-----END ")
            && let Some(c) = cur.take()
        {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod project_settings_tests {
    use super::*;

    #[test]
    fn typed_settings_read_harbors_metadata() {
        // Harbor's defaults: nothing on, threshold `low`, the system allow-list reused.
        let d = ProjectSettings::default();
        assert!(!d.auto_scan && !d.prevent_vul && !d.content_trust);
        assert!(d.reuse_sys_cve_allowlist);
        assert_eq!(d.severity, "low");
        let m: BTreeMap<String, String> = [
            ("auto_scan", "true"),
            ("prevent_vul", "true"),
            ("severity", "high"),
            ("reuse_sys_cve_allowlist", "false"),
            ("enable_content_trust", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let s = ProjectSettings::from_metadata(&m);
        assert!(s.auto_scan && s.prevent_vul && s.content_trust);
        assert!(!s.reuse_sys_cve_allowlist && !s.auto_sbom_generation);
        assert_eq!(s.severity, "high");
        // Either content-trust key turns it on.
        let cosign = [(
            "enable_content_trust_cosign".to_string(),
            "true".to_string(),
        )]
        .into();
        assert!(ProjectSettings::from_metadata(&cosign).content_trust);
    }
}
