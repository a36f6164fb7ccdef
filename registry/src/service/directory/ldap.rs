//! Talking to the LDAP / Active Directory server with `ldap3` (async, tokio,
//! rustls + ring): connect (ldap://, ldaps://, StartTLS, a CA file), bind with
//! the search DN, find a user by the UID attribute, check a password by binding
//! as the user, read the user's groups. Every value put into a filter goes
//! through `ldap3::ldap_escape`, so a user name cannot change the filter.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, ldap_escape};

use super::settings::{LdapSettings, SCOPE_BASE, SCOPE_ONE_LEVEL};

/// Result code of a bind with wrong credentials (RFC 4511 invalidCredentials).
const INVALID_CREDENTIALS: u32 = 49;
/// No such object: a base DN that does not exist finds nobody.
const NO_SUCH_OBJECT: u32 = 32;

/// Why the directory could not answer. The message names the server and the
/// step, never a password.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("LDAP is not configured (ldap_url is empty)")]
    NotConfigured,
    #[error("LDAP server {url}: {step}: {source}")]
    Ldap {
        url: String,
        step: &'static str,
        source: Box<LdapError>,
    },
    #[error("LDAP CA file {path}: {message}")]
    CaFile { path: String, message: String },
}

/// A user as the directory describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    /// The UID attribute's value.
    pub username: String,
    pub email: Option<String>,
    pub realname: Option<String>,
    /// DNs from the membership attribute (`memberof`).
    pub groups: Vec<String>,
}

/// A group as the directory describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    pub dn: String,
    pub name: String,
}

fn scope(n: i64) -> Scope {
    match n {
        SCOPE_BASE => Scope::Base,
        SCOPE_ONE_LEVEL => Scope::OneLevel,
        _ => Scope::Subtree,
    }
}

/// Attribute values by name, without regard to case (directories answer
/// `memberOf` when asked for `memberof`).
fn attr<'a>(attrs: &'a HashMap<String, Vec<String>>, name: &str) -> Option<&'a Vec<String>> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn first(attrs: &HashMap<String, Vec<String>>, name: &str) -> Option<String> {
    attr(attrs, name).and_then(|v| v.first().cloned())
}

/// `(&<configured filter>(<attribute>=<escaped value>))`, or just the match.
pub fn match_filter(configured: &str, attribute: &str, value: &str) -> String {
    let m = format!("({attribute}={})", ldap_escape(value));
    if configured.is_empty() {
        m
    } else {
        format!("(&{configured}{m})")
    }
}

/// One connection, bound with the search DN.
pub struct Session<'a> {
    settings: &'a LdapSettings,
    ldap: Ldap,
}

impl<'a> Session<'a> {
    fn err(&self, step: &'static str) -> impl FnOnce(LdapError) -> DirectoryError + '_ {
        move |source| DirectoryError::Ldap {
            url: self.settings.url.clone(),
            step,
            source: Box::new(source),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.settings.timeout.max(1) as u64)
    }

    /// Connect and bind with the search DN (anonymously when it is empty).
    pub async fn open(settings: &'a LdapSettings) -> Result<Session<'a>, DirectoryError> {
        if settings.url.is_empty() {
            return Err(DirectoryError::NotConfigured);
        }
        let ldap_err = |step| {
            move |source| DirectoryError::Ldap {
                url: settings.url.clone(),
                step,
                source: Box::new(source),
            }
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut conn = LdapConnSettings::new()
            .set_conn_timeout(Duration::from_secs(settings.timeout.max(1) as u64))
            .set_starttls(settings.starttls && settings.url.starts_with("ldap://"));
        if !settings.verify_cert {
            conn = conn.set_no_tls_verify(true);
        } else if let Some(path) = &settings.ca_file {
            conn = conn.set_config(client_config(path)?);
        }
        let (driver, ldap) = LdapConnAsync::with_settings(conn, &settings.url)
            .await
            .map_err(ldap_err("connecting"))?;
        tokio::spawn(async move {
            if let Err(e) = driver.drive().await {
                tracing::debug!(error = %e, "LDAP connection closed");
            }
        });
        let mut session = Session { settings, ldap };
        let t = session.timeout();
        session
            .ldap
            .with_timeout(t)
            .simple_bind(&settings.search_dn, &settings.search_password)
            .await
            .and_then(|r| r.success())
            .map_err(session.err("binding with ldap_search_dn"))?;
        Ok(session)
    }

    async fn search(
        &mut self,
        base: &str,
        scope_n: i64,
        filter: &str,
        attrs: Vec<String>,
        step: &'static str,
    ) -> Result<Vec<SearchEntry>, DirectoryError> {
        let t = self.timeout();
        let found = self
            .ldap
            .with_timeout(t)
            .search(base, scope(scope_n), filter, attrs)
            .await
            .and_then(|r| r.success());
        match found {
            Ok((entries, _)) => Ok(entries.into_iter().map(SearchEntry::construct).collect()),
            Err(LdapError::LdapResult { result }) if result.rc == NO_SUCH_OBJECT => Ok(Vec::new()),
            Err(e) => Err(self.err(step)(e)),
        }
    }

    fn user_attrs(&self) -> Vec<String> {
        let s = self.settings;
        vec![
            s.uid.clone(),
            "mail".into(),
            "email".into(),
            "cn".into(),
            "displayName".into(),
            s.group_membership_attribute.clone(),
        ]
    }

    fn to_user(&self, e: SearchEntry) -> DirectoryUser {
        let s = self.settings;
        DirectoryUser {
            username: first(&e.attrs, &s.uid).unwrap_or_default(),
            email: first(&e.attrs, "mail").or_else(|| first(&e.attrs, "email")),
            realname: first(&e.attrs, "displayName").or_else(|| first(&e.attrs, "cn")),
            groups: attr(&e.attrs, &s.group_membership_attribute)
                .cloned()
                .unwrap_or_default(),
            dn: e.dn,
        }
    }

    /// Users whose UID attribute is `username` exactly (`*` in it is a literal).
    pub async fn find_user(
        &mut self,
        username: &str,
    ) -> Result<Vec<DirectoryUser>, DirectoryError> {
        let s = self.settings;
        let filter = match_filter(&s.filter, &s.uid, username);
        let attrs = self.user_attrs();
        let found = self
            .search(&s.base_dn, s.scope, &filter, attrs, "searching the user")
            .await?;
        Ok(found.into_iter().map(|e| self.to_user(e)).collect())
    }

    /// Users whose UID attribute contains `fragment` (every user when empty).
    pub async fn search_users(
        &mut self,
        fragment: &str,
    ) -> Result<Vec<DirectoryUser>, DirectoryError> {
        let s = self.settings;
        let m = format!("({}=*{}*)", s.uid, ldap_escape(fragment));
        let m = if fragment.is_empty() {
            format!("({}=*)", s.uid)
        } else {
            m
        };
        let filter = if s.filter.is_empty() {
            m
        } else {
            format!("(&{}{m})", s.filter)
        };
        let attrs = self.user_attrs();
        let found = self
            .search(&s.base_dn, s.scope, &filter, attrs, "searching users")
            .await?;
        Ok(found.into_iter().map(|e| self.to_user(e)).collect())
    }

    /// Groups by name (the group attribute contains it) or by exact DN.
    pub async fn search_groups(
        &mut self,
        name: Option<&str>,
        dn: Option<&str>,
    ) -> Result<Vec<DirectoryGroup>, DirectoryError> {
        let s = self.settings;
        let name_attr = if s.group_attribute_name.is_empty() {
            "cn"
        } else {
            &s.group_attribute_name
        };
        let base_filter = if s.group_search_filter.is_empty() {
            "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=group))"
        } else {
            &s.group_search_filter
        };
        let (base, scope_n, filter) = match (dn, name) {
            (Some(dn), _) => (dn.to_string(), SCOPE_BASE, base_filter.to_string()),
            (None, name) => {
                let m = match name {
                    Some(n) if !n.is_empty() => format!("({name_attr}=*{}*)", ldap_escape(n)),
                    _ => format!("({name_attr}=*)"),
                };
                (
                    s.group_base_dn.clone(),
                    s.group_search_scope,
                    format!("(&{base_filter}{m})"),
                )
            }
        };
        let found = self
            .search(
                &base,
                scope_n,
                &filter,
                vec![name_attr.to_string()],
                "searching groups",
            )
            .await?;
        Ok(found
            .into_iter()
            .map(|e| DirectoryGroup {
                name: first(&e.attrs, name_attr).unwrap_or_default(),
                dn: e.dn,
            })
            .collect())
    }

    /// Does `password` open `dn`? A fresh connection binds as the user, so the
    /// search session keeps its own identity. Wrong credentials are `Ok(false)`.
    pub async fn check_password(&self, dn: &str, password: &str) -> Result<bool, DirectoryError> {
        // An empty password would be an unauthenticated bind, which succeeds.
        if password.is_empty() {
            return Ok(false);
        }
        let as_user = LdapSettings {
            search_dn: dn.to_string(),
            search_password: password.to_string(),
            ..self.settings.clone()
        };
        match Session::open(&as_user).await {
            Ok(mut s) => {
                let _ = s.ldap.unbind().await;
                Ok(true)
            }
            Err(DirectoryError::Ldap { source, .. }) if matches!(&*source, LdapError::LdapResult { result } if result.rc == INVALID_CREDENTIALS) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    pub async fn close(mut self) {
        let _ = self.ldap.unbind().await;
    }
}

/// rustls with the CA certificates of `path` as the only roots.
fn client_config(path: &std::path::Path) -> Result<Arc<rustls::ClientConfig>, DirectoryError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let bad = |message: String| DirectoryError::CaFile {
        path: path.display().to_string(),
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    for cert in certs {
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_escaped() {
        assert_eq!(
            match_filter("(objectClass=person)", "uid", "*)(uid=*"),
            "(&(objectClass=person)(uid=\\2a\\29\\28uid=\\2a))"
        );
        assert_eq!(match_filter("", "cn", "a\\b"), "(cn=a\\5cb)");
        // What the escaped filter says is still one equality match.
        ldap3::parse_filter(match_filter("", "uid", "*)(|(uid=*")).unwrap();
    }
}
