//! The authentication settings: Harbor's configuration items `auth_mode`,
//! `ldap_*` and `oidc_*`, typed, validated, and read or written one item at a time (as
//! Harbor's `/configurations` API names them).

use std::path::PathBuf;

use serde_json::Value;

use crate::error::{RegistryError, Result};

/// Harbor's `auth_mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    #[default]
    Db,
    Ldap,
    Oidc,
}

impl AuthMode {
    pub fn name(self) -> &'static str {
        match self {
            AuthMode::Db => "db_auth",
            AuthMode::Ldap => "ldap_auth",
            AuthMode::Oidc => "oidc_auth",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "db_auth" => Ok(AuthMode::Db),
            "ldap_auth" => Ok(AuthMode::Ldap),
            "oidc_auth" => Ok(AuthMode::Oidc),
            other => Err(RegistryError::bad_request(format!(
                "auth_mode {other:?} is not one of db_auth, ldap_auth, oidc_auth"
            ))),
        }
    }
}

/// LDAP search scopes as Harbor numbers them.
pub const SCOPE_BASE: i64 = 0;
pub const SCOPE_ONE_LEVEL: i64 = 1;
pub const SCOPE_SUBTREE: i64 = 2;

/// The directory's settings. The search password is kept in memory only here;
/// it is stored sealed and never returned or logged.
#[derive(Clone, PartialEq)]
pub struct LdapSettings {
    pub url: String,
    pub search_dn: String,
    pub search_password: String,
    pub base_dn: String,
    pub filter: String,
    pub uid: String,
    pub scope: i64,
    /// Seconds, for connecting and for each operation.
    pub timeout: i64,
    pub verify_cert: bool,
    /// Upgrade an `ldap://` connection with StartTLS (Wharf's item; Harbor has none).
    pub starttls: bool,
    pub group_base_dn: String,
    pub group_search_filter: String,
    pub group_attribute_name: String,
    /// Members of this group are system administrators.
    pub group_admin_dn: String,
    pub group_membership_attribute: String,
    pub group_search_scope: i64,
    /// PEM file of the CA(s) that sign the directory's certificate (a server-side
    /// setting: `--ldap-ca-file`, not an API item); default: the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for LdapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapSettings")
            .field("url", &self.url)
            .field("search_dn", &self.search_dn)
            .field("search_password", &"<redacted>")
            .field("base_dn", &self.base_dn)
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

impl Default for LdapSettings {
    fn default() -> Self {
        LdapSettings {
            url: String::new(),
            search_dn: String::new(),
            search_password: String::new(),
            base_dn: String::new(),
            filter: String::new(),
            uid: "cn".into(),
            scope: SCOPE_SUBTREE,
            timeout: 5,
            verify_cert: true,
            starttls: false,
            group_base_dn: String::new(),
            group_search_filter: String::new(),
            group_attribute_name: "cn".into(),
            group_admin_dn: String::new(),
            group_membership_attribute: "memberof".into(),
            group_search_scope: SCOPE_SUBTREE,
            ca_file: None,
        }
    }
}

/// The OpenID provider's settings (Harbor's `oidc_*` items). The client secret is
/// kept in memory only here; it is stored sealed and never returned or logged.
#[derive(Clone, PartialEq)]
pub struct OidcSettings {
    /// The provider's display name (the portal's login button).
    pub name: String,
    /// The issuer URL; discovery reads `{endpoint}/.well-known/openid-configuration`.
    pub endpoint: String,
    pub client_id: String,
    pub client_secret: String,
    /// Scopes requested, comma-separated as Harbor writes them; must hold `openid`.
    pub scope: String,
    pub verify_cert: bool,
    /// Create users on their first login (otherwise the login is refused).
    pub auto_onboard: bool,
    /// The claim that names the user; empty: `name`, else `preferred_username`.
    pub user_claim: String,
    /// The claim that lists the user's groups; empty: groups are not read.
    pub groups_claim: String,
    /// Members of this group are system administrators.
    pub admin_group: String,
    /// Only groups whose name matches this regular expression are kept; empty: all.
    pub group_filter: String,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Default for OidcSettings {
    fn default() -> Self {
        OidcSettings {
            name: String::new(),
            endpoint: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            scope: "openid,profile,email,offline_access".into(),
            verify_cert: true,
            auto_onboard: false,
            user_claim: String::new(),
            groups_claim: String::new(),
            admin_group: String::new(),
            group_filter: String::new(),
        }
    }
}

impl OidcSettings {
    /// The scopes, one each.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

/// What kind of value an item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Text,
    Number,
    Flag,
    /// Write-only: accepted, stored sealed, never shown.
    Password,
}

/// Every configuration item this API knows, in Harbor's names.
pub const ITEMS: &[(&str, ItemKind)] = &[
    ("auth_mode", ItemKind::Text),
    ("ldap_url", ItemKind::Text),
    ("ldap_search_dn", ItemKind::Text),
    ("ldap_search_password", ItemKind::Password),
    ("ldap_base_dn", ItemKind::Text),
    ("ldap_filter", ItemKind::Text),
    ("ldap_uid", ItemKind::Text),
    ("ldap_scope", ItemKind::Number),
    ("ldap_timeout", ItemKind::Number),
    ("ldap_verify_cert", ItemKind::Flag),
    ("ldap_starttls", ItemKind::Flag),
    ("ldap_group_base_dn", ItemKind::Text),
    ("ldap_group_search_filter", ItemKind::Text),
    ("ldap_group_attribute_name", ItemKind::Text),
    ("ldap_group_admin_dn", ItemKind::Text),
    ("ldap_group_membership_attribute", ItemKind::Text),
    ("ldap_group_search_scope", ItemKind::Number),
    ("oidc_name", ItemKind::Text),
    ("oidc_endpoint", ItemKind::Text),
    ("oidc_client_id", ItemKind::Text),
    ("oidc_client_secret", ItemKind::Password),
    ("oidc_scope", ItemKind::Text),
    ("oidc_verify_cert", ItemKind::Flag),
    ("oidc_auto_onboard", ItemKind::Flag),
    ("oidc_user_claim", ItemKind::Text),
    ("oidc_groups_claim", ItemKind::Text),
    ("oidc_admin_group", ItemKind::Text),
    ("oidc_group_filter", ItemKind::Text),
];

pub fn item_kind(name: &str) -> Option<ItemKind> {
    ITEMS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// The mode and the directory's settings together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthSettings {
    pub mode: AuthMode,
    pub ldap: LdapSettings,
    pub oidc: OidcSettings,
}

fn want_str(name: &str, v: &Value) -> Result<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| RegistryError::bad_request(format!("{name} must be a string")))
}

/// Harbor's clients send numbers and flags as JSON values or as strings.
fn want_int(name: &str, v: &Value) -> Result<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| RegistryError::bad_request(format!("{name} must be an integer")))
}

fn want_bool(name: &str, v: &Value) -> Result<bool> {
    v.as_bool()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| RegistryError::bad_request(format!("{name} must be true or false")))
}

fn scope(name: &str, v: &Value) -> Result<i64> {
    let n = want_int(name, v)?;
    if !(SCOPE_BASE..=SCOPE_SUBTREE).contains(&n) {
        return Err(RegistryError::bad_request(format!(
            "{name} must be 0 (base), 1 (one level) or 2 (subtree)"
        )));
    }
    Ok(n)
}

/// A filter as Harbor accepts it: empty, or one parenthesised expression
/// (parentheses added when missing).
fn filter(name: &str, v: &Value) -> Result<String> {
    let f = want_str(name, v)?.trim().to_string();
    if f.is_empty() {
        return Ok(f);
    }
    let f = if f.starts_with('(') {
        f
    } else {
        format!("({f})")
    };
    ldap3::parse_filter(&f)
        .map_err(|_| RegistryError::bad_request(format!("{name} is not an LDAP filter: {f}")))?;
    Ok(f)
}

impl AuthSettings {
    /// Set one item from its JSON value, validated.
    pub fn set(&mut self, name: &str, v: &Value) -> Result<()> {
        let l = &mut self.ldap;
        match name {
            "auth_mode" => self.mode = AuthMode::parse(&want_str(name, v)?)?,
            "ldap_url" => {
                let url = want_str(name, v)?.trim().to_string();
                if !url.is_empty() && !url.starts_with("ldap://") && !url.starts_with("ldaps://") {
                    return Err(RegistryError::bad_request(
                        "ldap_url must start with ldap:// or ldaps://",
                    ));
                }
                l.url = url;
            }
            "ldap_search_dn" => l.search_dn = want_str(name, v)?,
            "ldap_search_password" => l.search_password = want_str(name, v)?,
            "ldap_base_dn" => l.base_dn = want_str(name, v)?,
            "ldap_filter" => l.filter = filter(name, v)?,
            "ldap_uid" => {
                let uid = want_str(name, v)?;
                if uid.is_empty() || !uid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(RegistryError::bad_request(
                        "ldap_uid must be an attribute name (letters, digits, '-')",
                    ));
                }
                l.uid = uid;
            }
            "ldap_scope" => l.scope = scope(name, v)?,
            "ldap_timeout" => {
                let t = want_int(name, v)?;
                if !(1..=300).contains(&t) {
                    return Err(RegistryError::bad_request(
                        "ldap_timeout must be 1 to 300 seconds",
                    ));
                }
                l.timeout = t;
            }
            "ldap_verify_cert" => l.verify_cert = want_bool(name, v)?,
            "ldap_starttls" => l.starttls = want_bool(name, v)?,
            "ldap_group_base_dn" => l.group_base_dn = want_str(name, v)?,
            "ldap_group_search_filter" => l.group_search_filter = filter(name, v)?,
            "ldap_group_attribute_name" => l.group_attribute_name = want_str(name, v)?,
            "ldap_group_admin_dn" => l.group_admin_dn = want_str(name, v)?,
            "ldap_group_membership_attribute" => l.group_membership_attribute = want_str(name, v)?,
            "ldap_group_search_scope" => l.group_search_scope = scope(name, v)?,
            n if n.starts_with("oidc_") => self.set_oidc(n, v)?,
            other => {
                return Err(RegistryError::bad_request(format!(
                    "configuration item {other:?} is not supported"
                )));
            }
        }
        Ok(())
    }

    fn set_oidc(&mut self, name: &str, v: &Value) -> Result<()> {
        let o = &mut self.oidc;
        match name {
            "oidc_name" => o.name = want_str(name, v)?,
            "oidc_endpoint" => {
                let url = want_str(name, v)?.trim().trim_end_matches('/').to_string();
                if !url.is_empty() {
                    let parsed = url::Url::parse(&url).map_err(|e| {
                        RegistryError::bad_request(format!("oidc_endpoint is not a URL: {e}"))
                    })?;
                    if !matches!(parsed.scheme(), "https" | "http")
                        || parsed.query().is_some()
                        || parsed.fragment().is_some()
                    {
                        return Err(RegistryError::bad_request(
                            "oidc_endpoint must be the issuer's https:// (or http://) URL, without query or fragment",
                        ));
                    }
                }
                o.endpoint = url;
            }
            "oidc_client_id" => o.client_id = want_str(name, v)?.trim().to_string(),
            "oidc_client_secret" => o.client_secret = want_str(name, v)?,
            "oidc_scope" => {
                let scope = want_str(name, v)?;
                let probe = OidcSettings {
                    scope: scope.clone(),
                    ..Default::default()
                };
                if !probe.scopes().any(|s| s == "openid") {
                    return Err(RegistryError::bad_request("oidc_scope must include openid"));
                }
                o.scope = scope;
            }
            "oidc_verify_cert" => o.verify_cert = want_bool(name, v)?,
            "oidc_auto_onboard" => o.auto_onboard = want_bool(name, v)?,
            "oidc_user_claim" => o.user_claim = want_str(name, v)?.trim().to_string(),
            "oidc_groups_claim" => o.groups_claim = want_str(name, v)?.trim().to_string(),
            "oidc_admin_group" => o.admin_group = want_str(name, v)?,
            "oidc_group_filter" => {
                let f = want_str(name, v)?;
                if !f.is_empty() {
                    regex::Regex::new(&f).map_err(|e| {
                        RegistryError::bad_request(format!(
                            "oidc_group_filter is not a regular expression: {e}"
                        ))
                    })?;
                }
                o.group_filter = f;
            }
            other => {
                return Err(RegistryError::bad_request(format!(
                    "configuration item {other:?} is not supported"
                )));
            }
        }
        Ok(())
    }

    /// One item's value; `None` for the passwords, which are never shown.
    pub fn get(&self, name: &str) -> Option<Value> {
        let o = &self.oidc;
        match name {
            "oidc_name" => return Some(o.name.clone().into()),
            "oidc_endpoint" => return Some(o.endpoint.clone().into()),
            "oidc_client_id" => return Some(o.client_id.clone().into()),
            "oidc_scope" => return Some(o.scope.clone().into()),
            "oidc_verify_cert" => return Some(o.verify_cert.into()),
            "oidc_auto_onboard" => return Some(o.auto_onboard.into()),
            "oidc_user_claim" => return Some(o.user_claim.clone().into()),
            "oidc_groups_claim" => return Some(o.groups_claim.clone().into()),
            "oidc_admin_group" => return Some(o.admin_group.clone().into()),
            "oidc_group_filter" => return Some(o.group_filter.clone().into()),
            _ => {}
        }
        let l = &self.ldap;
        Some(match name {
            "auth_mode" => self.mode.name().into(),
            "ldap_url" => l.url.clone().into(),
            "ldap_search_dn" => l.search_dn.clone().into(),
            "ldap_base_dn" => l.base_dn.clone().into(),
            "ldap_filter" => l.filter.clone().into(),
            "ldap_uid" => l.uid.clone().into(),
            "ldap_scope" => l.scope.into(),
            "ldap_timeout" => l.timeout.into(),
            "ldap_verify_cert" => l.verify_cert.into(),
            "ldap_starttls" => l.starttls.into(),
            "ldap_group_base_dn" => l.group_base_dn.clone().into(),
            "ldap_group_search_filter" => l.group_search_filter.clone().into(),
            "ldap_group_attribute_name" => l.group_attribute_name.clone().into(),
            "ldap_group_admin_dn" => l.group_admin_dn.clone().into(),
            "ldap_group_membership_attribute" => l.group_membership_attribute.clone().into(),
            "ldap_group_search_scope" => l.group_search_scope.into(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_are_validated_and_read_back() {
        let mut s = AuthSettings::default();
        s.set("auth_mode", &json!("ldap_auth")).unwrap();
        s.set("ldap_scope", &json!("1")).unwrap();
        s.set("ldap_verify_cert", &json!(false)).unwrap();
        s.set("ldap_filter", &json!("objectClass=person")).unwrap();
        assert_eq!(s.get("auth_mode"), Some(json!("ldap_auth")));
        assert_eq!(s.get("ldap_scope"), Some(json!(1)));
        assert_eq!(s.get("ldap_filter"), Some(json!("(objectClass=person)")));
        assert_eq!(s.get("ldap_search_password"), None);
        s.set("auth_mode", &json!("oidc_auth")).unwrap();
        s.set("oidc_endpoint", &json!("https://idp.example.com/realms/x/"))
            .unwrap();
        s.set("oidc_client_secret", &json!("s3cret")).unwrap();
        s.set("oidc_scope", &json!("openid, offline_access"))
            .unwrap();
        assert_eq!(s.get("auth_mode"), Some(json!("oidc_auth")));
        assert_eq!(
            s.get("oidc_endpoint"),
            Some(json!("https://idp.example.com/realms/x"))
        );
        assert_eq!(s.get("oidc_client_secret"), None);
        assert_eq!(
            s.oidc.scopes().collect::<Vec<_>>(),
            ["openid", "offline_access"]
        );
        assert!(!format!("{:?}", s.oidc).contains("s3cret"));
        for (name, bad) in [
            ("auth_mode", json!("kerberos")),
            ("oidc_endpoint", json!("ftp://idp")),
            ("oidc_endpoint", json!("https://idp/?x=1")),
            ("oidc_scope", json!("profile,email")),
            ("oidc_group_filter", json!("(unclosed")),
            ("oidc_auto_onboard", json!("maybe")),
            ("ldap_url", json!("http://x")),
            ("ldap_scope", json!(3)),
            ("ldap_timeout", json!(0)),
            ("ldap_uid", json!("uid)(x")),
            ("ldap_filter", json!("(&(a=b)")),
            ("ldap_verify_cert", json!("yes")),
            ("email_host", json!("smtp")),
        ] {
            assert!(s.clone().set(name, &bad).is_err(), "{name} = {bad}");
        }
        let shown = format!(
            "{:?}",
            LdapSettings {
                search_password: "hunter2".into(),
                ..Default::default()
            }
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
