//! What a delivery sends: the event in Harbor's `Default` JSON or as a
//! CloudEvents 1.0 structured JSON document (Harbor's `CloudEvents` format), and
//! the signature over the exact bytes sent.

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::digest::Digest;
use crate::names::RepoName;
use crate::service::events::Event;

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>` (when the policy has a secret).
pub const SIGNATURE_HEADER: &str = "X-Wharf-Signature";
/// The header carrying the delivery attempt's time (seconds since the epoch). The
/// body's own `occur_at`/`time` is inside the signature, so a receiver can refuse
/// replays of old bodies without trusting this header.
pub const TIMESTAMP_HEADER: &str = "X-Wharf-Timestamp";

/// One event, ready to be rendered for each target.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Harbor's event type (`PUSH_ARTIFACT`, …).
    pub event_type: &'static str,
    /// The project the event belongs to.
    pub project: String,
    pub occur_at: i64,
    pub operator: String,
    /// Harbor's `event_data`.
    pub data: Value,
}

/// `host/project/repo@digest` or `…:tag`, Harbor's `resource_url`.
fn resource(host: &str, repo: &RepoName, digest: &Digest, tag: Option<&str>) -> Value {
    let url = match tag {
        Some(t) => format!("{host}/{repo}:{t}"),
        None => format!("{host}/{repo}@{digest}"),
    };
    json!({"digest": digest.to_string(), "tag": tag.unwrap_or_default(), "resource_url": url})
}

/// The project's name and Harbor's `repository` object.
fn repository_json(repo: &RepoName, occur_at: i64) -> (String, Value) {
    let (namespace, name) = repo.as_str().split_once('/').unwrap_or(("", repo.as_str()));
    (
        namespace.to_string(),
        json!({
            "date_created": occur_at,
            "name": name,
            "namespace": namespace,
            "repo_full_name": repo.as_str(),
            "repo_type": "private",
        }),
    )
}

impl Notice {
    /// The notice an event makes, if webhooks tell of that kind of event.
    /// `host` is the registry's host as clients name it (for `resource_url`).
    pub fn from_event(event: &Event, host: &str, occur_at: i64) -> Option<Notice> {
        let (event_type, repo, data) = match event {
            Event::ArtifactPushed {
                repository,
                digest,
                tag,
                ..
            } => (
                "PUSH_ARTIFACT",
                repository,
                vec![resource(host, repository, digest, tag.as_deref())],
            ),
            Event::ArtifactPulled {
                repository,
                digest,
                tag,
            } => (
                "PULL_ARTIFACT",
                repository,
                vec![resource(host, repository, digest, tag.as_deref())],
            ),
            Event::ScanFinished {
                repository,
                digest,
                severity,
                total,
            } => {
                let mut r = resource(host, repository, digest, None);
                r["scan_overview"] = json!({"scan_status": "Success", "severity": severity,
                    "summary": {"total": total}});
                ("SCANNING_COMPLETED", repository, vec![r])
            }
            Event::ScanFailed {
                repository,
                digest,
                message,
            } => {
                let mut r = resource(host, repository, digest, None);
                r["scan_overview"] = json!({"scan_status": "Error", "message": message});
                ("SCANNING_FAILED", repository, vec![r])
            }
            Event::ScanStopped { repository, digest } => {
                let mut r = resource(host, repository, digest, None);
                r["scan_overview"] = json!({"scan_status": "Stopped"});
                ("SCANNING_STOPPED", repository, vec![r])
            }
            Event::ArtifactDeleted { repository, digest } => (
                "DELETE_ARTIFACT",
                repository,
                vec![resource(host, repository, digest, None)],
            ),
            Event::QuotaExceeded {
                project,
                repository,
                used,
                limit,
                requested,
            } => {
                let (_, repo) = repository_json(repository, occur_at);
                let details = format!(
                    "adding {requested} bytes to {used} used would exceed the limit of {limit} bytes"
                );
                return Some(Notice {
                    event_type: "QUOTA_EXCEED",
                    project: project.clone(),
                    occur_at,
                    operator: String::new(),
                    data: json!({
                        "resources": [],
                        "repository": repo,
                        "custom_attributes": {"Details": details},
                    }),
                });
            }
            Event::QuotaWarning {
                project,
                repository,
                digest,
                used,
                limit,
                percent,
            } => {
                let (_, repo) = repository_json(repository, occur_at);
                let details = format!(
                    "quota usage reached {percent}%: {used} of {limit} bytes of storage used"
                );
                let resources: Vec<Value> = digest
                    .iter()
                    .map(|d| resource(host, repository, d, None))
                    .collect();
                return Some(Notice {
                    event_type: "QUOTA_WARNING",
                    project: project.clone(),
                    occur_at,
                    operator: String::new(),
                    data: json!({
                        "resources": resources,
                        "repository": repo,
                        "custom_attributes": {"Details": details},
                    }),
                });
            }
            Event::TagDeletedByRetention {
                repository,
                digest,
                tags,
                execution_id,
            } => {
                let (project, _) = repository_json(repository, occur_at);
                let deleted: Vec<Value> = tags
                    .iter()
                    .map(|t| resource(host, repository, digest, Some(t)))
                    .collect();
                return Some(Notice {
                    event_type: "TAG_RETENTION",
                    project: project.clone(),
                    occur_at,
                    operator: String::new(),
                    data: json!({
                        "retention": {
                            "total": deleted.len(),
                            "retained": 0,
                            "execution_id": execution_id,
                            "project_name": project,
                            "status": "Success",
                            "deleted_artifact": [{
                                "type": "image",
                                "digest": digest.to_string(),
                                "tag": tags.join(","),
                                "name_space": project,
                                "repo_name": repository.as_str(),
                            }],
                        }
                    }),
                });
            }
            Event::ReplicationTaskFinished {
                repository,
                execution_id,
                policy,
                trigger,
                status,
                resource_type,
                src_resource,
                dst_resource,
                override_tags,
            } => {
                let (project, repo_json) = repository_json(repository, occur_at);
                let (list, job_status) = if status == "Succeed" {
                    ("successful_artifact", "Success")
                } else {
                    ("failed_artifact", "Failure")
                };
                let mut replication = json!({
                    "harbor_hostname": host,
                    "job_status": job_status,
                    "description": format!("replication policy {policy}, execution {execution_id}"),
                    "artifact_type": resource_type,
                    "override_mode": override_tags,
                    "trigger_type": trigger.to_uppercase(),
                    "policy_creator": "",
                    "execution_timestamp": occur_at,
                    "src_resource": {"endpoint": src_resource},
                    "dest_resource": {"endpoint": dst_resource},
                });
                replication[list] = json!([{
                    "type": resource_type, "status": job_status, "name_tag": src_resource,
                }]);
                return Some(Notice {
                    event_type: "REPLICATION",
                    project,
                    occur_at,
                    operator: String::new(),
                    data: json!({"replication": replication, "repository": repo_json}),
                });
            }
            _ => return None,
        };
        let (project, repo_json) = repository_json(repo, occur_at);
        Some(Notice {
            event_type,
            project,
            occur_at,
            operator: String::new(),
            data: json!({"resources": data, "repository": repo_json}),
        })
    }

    /// The body for a target in `format` (`Default` or `CloudEvents`).
    /// `source` names the policy (CloudEvents' `source`), `id` the delivery.
    pub fn render(&self, format: &str, source: &str, id: &str) -> String {
        let body = if format == "CloudEvents" {
            json!({
                "specversion": "1.0",
                "id": id,
                "requestid": id,
                "source": source,
                "type": cloud_event_type(self.event_type),
                "datacontenttype": "application/json",
                "time": crate::service::time_rfc3339(self.occur_at),
                "data": self.data,
                "operator": self.operator,
            })
        } else {
            json!({
                "type": self.event_type,
                "occur_at": self.occur_at,
                "operator": self.operator,
                "event_data": self.data,
            })
        };
        body.to_string()
    }
}

/// Harbor's CloudEvents `type` for an event type.
fn cloud_event_type(event_type: &str) -> &'static str {
    match event_type {
        "PUSH_ARTIFACT" => "harbor.artifact.pushed",
        "PULL_ARTIFACT" => "harbor.artifact.pulled",
        "DELETE_ARTIFACT" => "harbor.artifact.deleted",
        "SCANNING_COMPLETED" => "harbor.scan.completed",
        "SCANNING_FAILED" => "harbor.scan.failed",
        "SCANNING_STOPPED" => "harbor.scan.stopped",
        "QUOTA_EXCEED" => "harbor.quota.exceed",
        "QUOTA_WARNING" => "harbor.quota.warning",
        "REPLICATION" => "harbor.replication.status.changed",
        _ => "harbor.tag_retention.finished",
    }
}

/// `sha256=<hex>`: HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// Harbor's `REPLICATION` event data: the job status and the artifact in
    /// `successful_artifact` or `failed_artifact`, told to the local project.
    #[test]
    fn replication_tasks_become_harbor_replication_events() {
        let event = Event::ReplicationTaskFinished {
            repository: RepoName::parse("production/app").unwrap(),
            execution_id: 7,
            policy: "to-airgap".into(),
            trigger: "event_based".into(),
            status: "Failed".into(),
            resource_type: "image".into(),
            src_resource: "production/app:v1".into(),
            dst_resource: "airgap:5000/production/app:v1".into(),
            override_tags: true,
        };
        let n = Notice::from_event(&event, "reg.example", 1_680_501_893).unwrap();
        assert_eq!(
            (n.event_type, n.project.as_str()),
            ("REPLICATION", "production")
        );
        let d: Value = serde_json::from_str(&n.render("CloudEvents", "/x", "1")).unwrap();
        assert_eq!(d["type"], "harbor.replication.status.changed");
        let r = &d["data"]["replication"];
        assert_eq!(r["job_status"], "Failure");
        assert_eq!(r["trigger_type"], "EVENT_BASED");
        assert_eq!(r["failed_artifact"][0]["name_tag"], "production/app:v1");
        assert!(r.get("successful_artifact").is_none());
    }

    #[test]
    fn default_and_cloud_events_shapes() {
        let repo = RepoName::parse("lib/app").unwrap();
        let digest: Digest =
            "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"
                .parse()
                .unwrap();
        let event = Event::ArtifactPushed {
            repository: repo,
            digest: digest.clone(),
            media_type: String::new(),
            artifact_type: None,
            has_subject: false,
            tag: Some("v1".into()),
        };
        let n = Notice::from_event(&event, "reg.example", 1_680_501_893).unwrap();
        assert_eq!(n.project, "lib");
        let d: Value = serde_json::from_str(&n.render("Default", "/x", "1")).unwrap();
        assert_eq!(d["type"], "PUSH_ARTIFACT");
        assert_eq!(d["occur_at"], 1_680_501_893);
        let r = &d["event_data"]["resources"][0];
        assert_eq!(r["resource_url"], "reg.example/lib/app:v1");
        assert_eq!(r["digest"], digest.to_string());
        assert_eq!(d["event_data"]["repository"]["namespace"], "lib");
        assert_eq!(d["event_data"]["repository"]["name"], "app");
        let c: Value =
            serde_json::from_str(&n.render("CloudEvents", "/projects/1/webhook/policies/2", "7"))
                .unwrap();
        assert_eq!(c["specversion"], "1.0");
        assert_eq!(c["type"], "harbor.artifact.pushed");
        assert_eq!(c["time"], "2023-04-03T06:04:53Z");
        assert_eq!(c["data"]["repository"]["repo_full_name"], "lib/app");
    }
}
