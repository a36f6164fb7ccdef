//! Harbor's `WebhookPolicy`, validated before it is stored, and the event types
//! a policy can name.

use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};

/// Harbor's event types, in Harbor's order (`GET …/webhook/events`).
pub const EVENT_TYPES: &[&str] = &[
    "DELETE_ARTIFACT",
    "PULL_ARTIFACT",
    "PUSH_ARTIFACT",
    "QUOTA_EXCEED",
    "QUOTA_WARNING",
    "REPLICATION",
    "SCANNING_FAILED",
    "SCANNING_STOPPED",
    "SCANNING_COMPLETED",
    "TAG_RETENTION",
];

/// Target kinds this registry sends to (Harbor also has `slack`).
pub const NOTIFY_TYPES: &[&str] = &["http"];

/// Payload formats of an `http` target.
pub const PAYLOAD_FORMATS: &[&str] = &["Default", "CloudEvents"];

const MAX_NAME: usize = 256;
const MAX_TARGETS: usize = 10;

/// Harbor's `WebhookTargetObject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    #[serde(rename = "type", default = "http")]
    pub kind: String,
    pub address: String,
    /// Sent as the `Authorization` header.
    #[serde(default)]
    pub auth_header: String,
    #[serde(default)]
    pub skip_cert_verify: bool,
    #[serde(default = "default_format")]
    pub payload_format: String,
}

fn http() -> String {
    "http".into()
}

fn default_format() -> String {
    "Default".into()
}

fn yes() -> bool {
    true
}

/// Harbor's `WebhookPolicy`, plus `secret` (Wharf's): the HMAC-SHA256 key every
/// delivery is signed with. The secret is write-only: never shown by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPolicy {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub project_id: i64,
    pub targets: Vec<Target>,
    pub event_types: Vec<String>,
    #[serde(default)]
    pub creator: String,
    #[serde(default)]
    pub creation_time: String,
    #[serde(default)]
    pub update_time: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookPolicy {
    /// Everything serde cannot check, with the field that is wrong.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(RegistryError::bad_request(format!("webhook policy: {m}")));
        let name = self.name.trim();
        if name.is_empty() || name.len() > MAX_NAME {
            return bad(format!("name must be 1 to {MAX_NAME} characters"));
        }
        if self.targets.is_empty() || self.targets.len() > MAX_TARGETS {
            return bad(format!("targets: 1 to {MAX_TARGETS} targets"));
        }
        for (i, t) in self.targets.iter().enumerate() {
            if !NOTIFY_TYPES.contains(&t.kind.as_str()) {
                return bad(format!(
                    "targets[{i}].type {:?}: one of {NOTIFY_TYPES:?}",
                    t.kind
                ));
            }
            if !PAYLOAD_FORMATS.contains(&t.payload_format.as_str()) {
                return bad(format!(
                    "targets[{i}].payload_format {:?}: one of {PAYLOAD_FORMATS:?}",
                    t.payload_format
                ));
            }
            match reqwest::Url::parse(&t.address) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                Ok(_) => return bad(format!("targets[{i}].address: an http or https URL")),
                Err(e) => return bad(format!("targets[{i}].address {:?}: {e}", t.address)),
            }
            if t.auth_header.contains(['\r', '\n']) {
                return bad(format!("targets[{i}].auth_header: one line"));
            }
        }
        if self.event_types.is_empty() {
            return bad("event_types: at least one".into());
        }
        for e in &self.event_types {
            if !EVENT_TYPES.contains(&e.as_str()) {
                return bad(format!("event_types: {e:?} is not one of {EVENT_TYPES:?}"));
            }
        }
        if self.secret.as_ref().is_some_and(|s| s.is_empty()) {
            return bad("secret: empty (leave it out to send unsigned)".into());
        }
        Ok(())
    }

    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled && self.event_types.iter().any(|e| e == event_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(v: serde_json::Value) -> WebhookPolicy {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn harbor_bodies_are_accepted_and_mistakes_named() {
        let ok = policy(serde_json::json!({
            "name": "ci", "event_types": ["PUSH_ARTIFACT"],
            "targets": [{"type": "http", "address": "http://hooks.example:8080/x"}]
        }));
        ok.check().unwrap();
        assert!(ok.enabled);
        assert_eq!(ok.targets[0].payload_format, "Default");

        let mut p = ok.clone();
        p.event_types = vec!["PUSH".into()];
        assert!(p.check().unwrap_err().to_string().contains("\"PUSH\""));
        let mut p = ok.clone();
        p.targets[0].address = "ftp://x/".into();
        assert!(
            p.check()
                .unwrap_err()
                .to_string()
                .contains("targets[0].address")
        );
        let mut p = ok.clone();
        p.targets[0].kind = "slack".into();
        assert!(
            p.check()
                .unwrap_err()
                .to_string()
                .contains("targets[0].type")
        );
        let mut p = ok;
        p.targets[0].auth_header = "a\r\nX-Evil: 1".into();
        assert!(p.check().is_err());
    }
}
