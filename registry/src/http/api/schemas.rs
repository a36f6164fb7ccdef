//! JSON Schemas of the management API's bodies, for the OpenAPI document. Each
//! route in `api_routes!` names its request and response schema; a test checks
//! that real responses validate against them, so the document stays true.

use serde_json::{Value, json};

fn s() -> Value {
    json!({"type": "string"})
}
fn t() -> Value {
    json!({"type": "string", "format": "date-time"})
}
fn i() -> Value {
    json!({"type": "integer"})
}
fn b() -> Value {
    json!({"type": "boolean"})
}
fn nullable(mut v: Value) -> Value {
    v["nullable"] = json!(true);
    v
}
fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}
fn obj(required: &[&str], props: Value) -> Value {
    // OpenAPI 3.0 wants `required` absent rather than empty.
    if required.is_empty() {
        return json!({"type": "object", "properties": props});
    }
    json!({"type": "object", "required": required, "properties": props})
}
/// Harbor sends project settings as strings: "true", "false", "high".
fn string_map() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}})
}

/// `components.schemas` of the OpenAPI document.
pub fn components() -> Value {
    let access = obj(
        &["resource", "action"],
        json!({"resource": s(), "action": s(), "effect": s()}),
    );
    let permission = obj(
        &["kind", "namespace", "access"],
        json!({"kind": s(), "namespace": s(), "access": {"type": "array", "items": access}}),
    );
    let scan_overview = obj(
        &["scan_status"],
        json!({"report_id": s(), "scan_status": {"type": "string", "enum": ["Pending", "Running", "Success", "Error", "Stopped"]},
            "severity": nullable(s()), "duration": i(), "summary": nullable(json!({"type": "object"})),
            "start_time": nullable(t()), "end_time": nullable(t()), "complete_percent": i(),
            "scanner": r("Scanner"), "db_version": nullable(s()), "message": nullable(s())}),
    );
    let selector = obj(
        &["kind", "decoration", "pattern"],
        json!({"kind": {"type": "string", "enum": ["doublestar"]}, "decoration": s(), "pattern": s(), "extras": s()}),
    );
    // Retention's tag selectors also take Harbor's label selector (withLabels /
    // withoutLabels, a comma-separated list of label names).
    let retention_selector = obj(
        &["kind", "decoration", "pattern"],
        json!({"kind": {"type": "string", "enum": ["doublestar", "label"]}, "decoration": s(), "pattern": s(), "extras": s()}),
    );
    let scope_selectors = obj(
        &[],
        json!({"repository": {"type": "array", "items": selector.clone()}}),
    );
    let storage = obj(&["storage"], json!({"storage": i()}));
    let mut m = serde_json::Map::new();
    m.insert("ImmutableRule".into(), obj(&["tag_selectors", "scope_selectors"], json!({"id": i(), "priority": i(), "disabled": b(),
            "action": s(), "template": s(), "params": {"type": "object"},
            "tag_selectors": {"type": "array", "items": selector.clone()}, "scope_selectors": scope_selectors.clone()})));
    m.insert("Quota".into(), obj(&["id", "hard", "used"], json!({"id": i(),
            "ref": obj(&[], json!({"id": i(), "name": s(), "owner_name": nullable(s())})),
            "hard": storage.clone(), "used": storage.clone(), "creation_time": t(), "update_time": t()})));
    m.insert(
        "QuotaUpdateReq".into(),
        obj(&["hard"], json!({"hard": storage.clone()})),
    );
    m.insert(
        "ProjectSummary".into(),
        obj(
            &["repo_count", "quota"],
            json!({"repo_count": i(),
            "quota": obj(&["hard", "used"], json!({"hard": storage.clone(), "used": storage}))}),
        ),
    );
    m.insert("RetentionRule".into(), obj(&["template", "tag_selectors", "scope_selectors"], json!({"id": i(), "priority": i(), "disabled": b(),
            "action": s(), "template": {"type": "string", "enum": ["latestPushedK", "latestPulledN", "nDaysSinceLastPush", "nDaysSinceLastPull", "always"]},
            "params": {"type": "object"}, "tag_selectors": {"type": "array", "items": retention_selector}, "scope_selectors": scope_selectors})));
    m.insert("RetentionPolicy".into(), obj(&["scope"], json!({"id": i(), "algorithm": s(),
            "rules": {"type": "array", "items": r("RetentionRule")},
            "trigger": obj(&[], json!({"kind": s(), "settings": obj(&[], json!({"cron": s()})), "references": {"type": "object"}})),
            "scope": obj(&["level", "ref"], json!({"level": s(), "ref": i()}))})));
    m.insert("RetentionMetadata".into(), obj(&["templates"], json!({"templates": {"type": "array", "items": obj(&[], json!({"rule_template": s(), "display_text": s(), "action": s(), "params": {"type": "array", "items": {"type": "object"}}}))},
            "scope_selectors": {"type": "array", "items": {"type": "object"}}, "tag_selectors": {"type": "array", "items": {"type": "object"}}})));
    m.insert(
        "RetentionExecutionReq".into(),
        obj(&[], json!({"dry_run": b()})),
    );
    m.insert(
        "RetentionStopReq".into(),
        obj(
            &["action"],
            json!({"action": {"type": "string", "enum": ["stop"]}}),
        ),
    );
    m.insert("RetentionExecution".into(), obj(&["id", "policy_id", "status"], json!({"id": i(), "policy_id": i(),
            "status": {"type": "string", "enum": ["Pending", "Running", "Success", "Error", "Stopped"]}, "trigger": s(), "dry_run": b(),
            "start_time": t(), "end_time": nullable(t())})));
    m.insert("RetentionTask".into(), obj(&["id", "execution_id", "repository", "status"], json!({"id": i(), "execution_id": i(),
            "repository": s(), "job_id": s(), "status": s(), "status_code": i(), "status_revision": i(),
            "start_time": t(), "end_time": nullable(t()), "total": i(), "retained": i()})));
    m.insert("Errors".into(), obj(&["errors"], json!({"errors": {"type": "array", "items": obj(&["code", "message"], json!({"code": s(), "message": s()}))}})));
    m.insert(
        "Project".into(),
        obj(
            &["project_id", "name", "metadata"],
            json!({
            "project_id": i(), "name": s(), "owner_id": nullable(i()), "owner_name": nullable(s()),
            "creation_time": t(), "update_time": t(), "repo_count": i(), "metadata": string_map(),
            "cve_allowlist": r("CVEAllowlist"), "current_user_role_id": i(),
            "current_user_role_ids": {"type": "array", "items": i()},
            "registry_id": {"type": "integer", "description": "the registry endpoint a proxy cache project fronts"}}),
        ),
    );
    m.insert("ProjectReq".into(), obj(&[], json!({"project_name": s(), "public": b(), "metadata": string_map(), "cve_allowlist": r("CVEAllowlist"),
            "storage_limit": {"type": "integer", "description": "bytes, -1 unlimited (system administrators; others get the default)"},
            "registry_id": {"type": "integer", "description": "makes the project a proxy cache of this registry endpoint (system administrators)"}})));
    m.insert("CVEAllowlist".into(), obj(&[], json!({"project_id": i(), "items": {"type": "array", "items": obj(&["cve_id"], json!({"cve_id": s()}))},
            "expires_at": nullable(i()), "creation_time": t(), "update_time": t()})));
    m.insert(
        "Member".into(),
        obj(
            &["id", "role_id", "entity_name"],
            json!({"id": i(), "project_id": i(), "entity_name": s(), "entity_id": i(),
            "entity_type": s(), "role_id": i(), "role_name": s()}),
        ),
    );
    m.insert("MemberReq".into(), obj(&["role_id"], json!({"role_id": i(), "member_user": obj(&[], json!({"username": s(), "user_id": i()})),
            "member_group": r("UserGroup")})));
    m.insert("Role".into(), obj(&["name", "actions"], json!({"id": i(), "name": s(), "description": s(), "builtin": b(),
            "actions": {"type": "array", "items": s(), "description": "project actions, as named in docs/permissions.md"}})));
    m.insert("UserGroup".into(), obj(&[], json!({"id": i(), "group_name": s(), "group_type": {"type": "integer", "description": "1 LDAP, 3 OIDC"},
            "ldap_group_dn": s()})));
    m.insert("Configurations".into(), json!({"type": "object", "description": "configuration items by name: auth_mode, ldap_url, ldap_search_dn, ldap_search_password (write-only), ldap_base_dn, ldap_filter, ldap_uid, ldap_scope, ldap_timeout, ldap_verify_cert, ldap_starttls, ldap_group_base_dn, ldap_group_search_filter, ldap_group_attribute_name, ldap_group_admin_dn, ldap_group_membership_attribute, ldap_group_search_scope",
            "additionalProperties": true}));
    m.insert("ConfigurationsResponse".into(), json!({"type": "object", "additionalProperties": obj(&["value", "editable"], json!({"value": {}, "editable": b()}))}));
    m.insert(
        "LdapPingResult".into(),
        obj(&["success"], json!({"success": b(), "message": s()})),
    );
    m.insert(
        "LdapUser".into(),
        obj(
            &["username"],
            json!({"username": s(), "realname": s(), "email": s()}),
        ),
    );
    m.insert(
        "LdapImportUsers".into(),
        obj(
            &["ldap_uid_list"],
            json!({"ldap_uid_list": {"type": "array", "items": s()}}),
        ),
    );
    m.insert("RoleReq".into(), obj(&["role_id"], json!({"role_id": i()})));
    m.insert("User".into(), obj(&["user_id", "username"], json!({"user_id": i(), "username": s(), "email": s(), "realname": s(), "comment": s(),
            "sysadmin_flag": b(), "admin_role_in_auth": b(), "creation_time": t(), "update_time": t(),
            "oidc_user_meta": obj(&["user_id", "secret"], json!({"id": i(), "user_id": i(), "subiss": s(), "secret": s(),
                "creation_time": t(), "update_time": t()}))})));
    m.insert(
        "OIDCCliSecretReq".into(),
        obj(&["secret"], json!({"secret": s()})),
    );
    m.insert("UserReq".into(), obj(&["username", "password"], json!({"username": s(), "password": s(), "email": s(), "realname": s(), "comment": s()})));
    m.insert(
        "PasswordReq".into(),
        obj(
            &["new_password"],
            json!({"old_password": s(), "new_password": s()}),
        ),
    );
    m.insert(
        "SysAdminReq".into(),
        obj(&["sysadmin_flag"], json!({"sysadmin_flag": b()})),
    );
    m.insert("Robot".into(), obj(&["id", "name", "level", "permissions"], json!({"id": i(), "name": s(), "description": s(), "level": s(),
            "duration": i(), "editable": b(), "disable": b(), "expires_at": i(), "expired": b(),
            "permissions": {"type": "array", "items": permission}, "creation_time": t(), "update_time": t()})));
    m.insert(
        "RobotReq".into(),
        obj(
            &[],
            json!({"name": s(), "description": s(), "level": s(), "duration": i(), "disable": b(),
            "permissions": {"type": "array", "items": permission}}),
        ),
    );
    m.insert(
        "RobotCreated".into(),
        obj(
            &["id", "name", "secret"],
            json!({"id": i(), "name": s(), "secret": s(), "creation_time": t(), "expires_at": i()}),
        ),
    );
    m.insert("RobotSec".into(), obj(&["secret"], json!({"secret": s()})));
    m.insert(
        "Repository".into(),
        obj(
            &["name", "artifact_count"],
            json!({"name": s(), "artifact_count": i(), "pull_count": i(),
            "creation_time": t(), "update_time": t()}),
        ),
    );
    let accessory = obj(
        &[
            "digest",
            "type",
            "subject_artifact_digest",
            "subject_artifact_repo",
        ],
        json!({"digest": s(), "size": i(), "type": s(),
        "artifact_type": nullable(s()), "subject_artifact_digest": s(),
        "subject_artifact_repo": s(), "icon": s()}),
    );
    m.insert("Accessory".into(), accessory.clone());
    let signature = obj(
        &["type", "verified"],
        json!({"type": s(), "source": s(),
        "predicate_type": nullable(s()), "certificate_identity": nullable(json!({"type": "object"})),
        "verified": b(), "key_fingerprint": nullable(s()),
        "verified_identity": nullable(json!({"type": "object"})), "reason": nullable(s())}),
    );
    let sbom_overview = obj(
        &[],
        json!({"sbom_digest": s(), "scan_status": s(), "report_id": s()}),
    );
    m.insert("Artifact".into(), obj(&["digest", "manifest_media_type", "size", "tags"], json!({
        "digest": s(), "media_type": s(), "manifest_media_type": s(), "artifact_type": nullable(s()), "size": i(),
        "push_time": t(), "pull_time": nullable(t()), "pull_count": i(), "repository_name": s(),
        "tags": {"type": "array", "items": r("Tag")},
        "labels": {"type": "array", "items": r("Label")},
        "accessories": {"type": "array", "items": r("Accessory")},
        "scan_overview": {"type": "object", "additionalProperties": scan_overview},
        "sbom_overview": sbom_overview,
        "signatures": {"type": "array", "items": signature}})));
    m.insert(
        "Tag".into(),
        obj(
            &["name"],
            json!({"name": s(), "push_time": t(), "repository_name": s()}),
        ),
    );
    m.insert("TagReq".into(), obj(&["name"], json!({"name": s()})));
    m.insert(
        "Label".into(),
        obj(
            &[],
            json!({"id": i(), "name": s(), "description": s(), "color": s(),
                "scope": {"type": "string", "enum": ["g", "p"]}, "project_id": i(),
                "creation_time": t(), "update_time": t(), "deleted": {"type": "boolean"}}),
        ),
    );
    m.insert("ArtifactLabelReq".into(), obj(&["id"], json!({"id": i()})));
    m.insert(
        "ScanReq".into(),
        obj(
            &[],
            json!({"scan_type": {"type": "string", "enum": ["vulnerability", "sbom"]}}),
        ),
    );
    m.insert(
        "Scanner".into(),
        obj(
            &["name"],
            json!({"name": s(), "vendor": s(), "version": s()}),
        ),
    );
    let vulnerability = obj(
        &["id", "package", "version", "severity"],
        json!({
        "id": s(), "package": s(), "version": s(), "fix_version": s(), "severity": s(), "description": s(),
        "links": {"type": "array", "items": s()}, "preferred_cvss": {"type": "object"},
        "cwe_ids": {"type": "array", "items": s()}, "vendor_attributes": {"type": "object"}}),
    );
    let report = obj(
        &["vulnerabilities"],
        json!({
        "generated_at": t(), "artifact": {"type": "object"}, "scanner": r("Scanner"), "severity": s(), "packages": i(),
        "vulnerabilities": {"type": "array", "items": vulnerability}}),
    );
    m.insert(
        "VulnerabilityReport".into(),
        json!({"type": "object", "additionalProperties": report}),
    );
    m.insert(
        "Schedule".into(),
        obj(
            &["schedule"],
            json!({"schedule": obj(&["type"], json!({"type": s(), "cron": s()}))}),
        ),
    );
    m.insert(
        "ScanMetrics".into(),
        obj(
            &["total", "metrics"],
            json!({"total": i(), "completed": i(), "ongoing": b(), "trigger": s(),
            "metrics": {"type": "object", "additionalProperties": i()}}),
        ),
    );
    let num = || json!({"type": "number"});
    m.insert(
        "VulnerabilityItem".into(),
        obj(
            &[
                "repository_name",
                "digest",
                "cve_id",
                "severity",
                "package",
                "version",
            ],
            json!({"project_id": nullable(i()), "repository_name": s(), "digest": s(),
            "tags": {"type": "array", "items": s()}, "cve_id": s(), "severity": s(),
            "cvss_v3_score": nullable(num()), "package": s(), "version": s(),
            "fixed_version": s(), "desc": s(), "links": {"type": "array", "items": s()}}),
        ),
    );
    m.insert(
        "SecuritySummary".into(),
        obj(
            &["total_vuls", "scanned_cnt", "total_artifact"],
            json!({"critical_cnt": i(), "high_cnt": i(), "medium_cnt": i(), "low_cnt": i(),
            "none_cnt": i(), "unknown_cnt": i(), "total_vuls": i(), "scanned_cnt": i(),
            "total_artifact": i(), "fixable_cnt": i(),
            "dangerous_cves": {"type": "array", "items": obj(&["cve_id", "severity"],
                json!({"cve_id": s(), "severity": s(), "cvss_score_v3": nullable(num()),
                "desc": s(), "package": s(), "version": s()}))},
            "dangerous_artifacts": {"type": "array", "items": obj(&["repository_name", "digest"],
                json!({"project_id": nullable(i()), "repository_name": s(), "digest": s(),
                "critical_cnt": i(), "high_cnt": i(), "medium_cnt": i()}))}}),
        ),
    );
    m.insert(
        "AuditLog".into(),
        obj(
            &["id", "username", "operation", "resource", "op_time"],
            json!({"id": i(), "username": s(), "resource": s(),
            "resource_type": s(), "operation": s(), "op_time": t(), "client_ip": nullable(s())}),
        ),
    );
    m.insert(
        "SystemInfo".into(),
        obj(
            &["auth_mode", "harbor_version"],
            json!({"auth_mode": s(), "harbor_version": s(), "registry_url": nullable(s()),
            "project_creation_restriction": s(), "self_registration": b(), "has_ca_root": b(),
            "oidc_provider_name": s()}),
        ),
    );
    m.insert(
        "Health".into(),
        obj(
            &["status", "components"],
            json!({"status": s(), "components": {"type": "array",
            "items": obj(&["name", "status"], json!({"name": s(), "status": s()}))}}),
        ),
    );
    m.insert(
        "Job".into(),
        obj(
            &["id", "kind", "status", "trigger", "parameters", "attempts", "creation_time"],
            json!({"id": i(), "kind": s(), "status": s(), "trigger": s(),
            "parameters": {"type": "object"}, "attempts": i(), "max_attempts": i(),
            "stop_requested": b(), "next_run_time": t(), "result": nullable(json!({"type": "object"})),
            "message": nullable(s()), "creation_time": t(), "start_time": nullable(t()),
            "end_time": nullable(t()), "update_time": t()}),
        ),
    );
    let schedule_obj = obj(
        &["type"],
        json!({"type": {"type": "string", "enum": ["Hourly", "Daily", "Weekly", "Custom", "Manual", "None", "Schedule"]},
        "cron": s(), "next_scheduled_time": nullable(t())}),
    );
    m.insert(
        "GCSchedule".into(),
        obj(
            &["schedule"],
            json!({"schedule": schedule_obj.clone(),
            "parameters": obj(&[], json!({"delete_untagged": b(), "dry_run": b(), "grace_period_seconds": i()})),
            "creation_time": nullable(t()), "update_time": nullable(t())}),
        ),
    );
    m.insert(
        "GCHistory".into(),
        obj(
            &[
                "id",
                "job_name",
                "job_kind",
                "job_parameters",
                "job_status",
                "creation_time",
            ],
            json!({"id": i(), "job_name": s(), "job_kind": s(), "job_parameters": s(),
            "schedule": schedule_obj, "job_status": s(), "deleted": b(),
            "creation_time": t(), "update_time": t()}),
        ),
    );
    m.insert("ScrubReq".into(), obj(&[], json!({"quarantine": b()})));
    let registry_type = json!({"type": "string", "enum": ["harbor", "docker-registry", "wharf"]});
    m.insert(
        "Registry".into(),
        obj(
            &["name", "url", "type"],
            json!({"id": i(), "name": s(), "url": s(), "type": registry_type.clone(),
            "description": s(), "insecure": b(), "ca_file": s(),
            "credential": obj(&[], json!({"type": {"type": "string", "enum": ["basic", "oauth"]},
                "access_key": s(), "access_secret": s()})),
            "creation_time": t(), "update_time": t()}),
        ),
    );
    let side = nullable(obj(&[], json!({"id": i()})));
    m.insert(
        "ReplicationPolicy".into(),
        obj(
            &["name"],
            json!({"id": i(), "name": s(), "description": s(),
            "src_registry": side.clone(), "dest_registry": side,
            "dest_namespace": s(), "dest_namespace_replace_count": i(),
            "trigger": obj(&["type"], json!({"type": {"type": "string", "enum": ["manual", "scheduled", "event_based"]},
                "trigger_settings": obj(&[], json!({"cron": s()}))})),
            "filters": {"type": "array", "items": obj(&["type", "value"], json!({
                "type": {"type": "string", "enum": ["name", "tag", "label", "resource"]},
                "value": {}, "decoration": {"type": "string", "enum": ["matches", "excludes"]}}))},
            "deletion": b(), "override": b(), "enabled": b(), "speed": i(),
            "creation_time": t(), "update_time": t()}),
        ),
    );
    m.insert(
        "StartReplicationExecution".into(),
        obj(&["policy_id"], json!({"policy_id": i()})),
    );
    m.insert("ReplicationExecution".into(), obj(&["id", "policy_id", "status"], json!({"id": i(), "policy_id": i(),
            "status": {"type": "string", "enum": ["InProgress", "Succeed", "Failed", "Stopped"]}, "status_text": s(),
            "trigger": {"type": "string", "enum": ["manual", "scheduled", "event_based"]},
            "start_time": t(), "end_time": t(), "total": i(), "failed": i(), "succeed": i(),
            "in_progress": i(), "stopped": i()})));
    m.insert("ReplicationTask".into(), obj(&["id", "execution_id", "status"], json!({"id": i(), "execution_id": i(),
            "resource_type": s(), "src_resource": s(), "dst_resource": s(),
            "operation": {"type": "string", "enum": ["copy", "deletion"]}, "job_id": s(),
            "status": {"type": "string", "enum": ["Pending", "InProgress", "Succeed", "Failed", "Stopped"]},
            "start_time": t(), "end_time": t(), "bytes": i(), "duration": i(), "attempts": i(), "message": s()})));
    m.insert(
        "RegistryUpdate".into(),
        obj(
            &[],
            json!({"name": s(), "description": s(), "url": s(), "credential_type": s(),
            "access_key": s(), "access_secret": s(), "insecure": b(), "ca_file": s()}),
        ),
    );
    m.insert(
        "RegistryPing".into(),
        obj(
            &[],
            json!({"id": i(), "type": registry_type, "url": s(), "credential_type": s(),
            "access_key": s(), "access_secret": s(), "insecure": b(), "ca_file": s()}),
        ),
    );
    m.insert(
        "ScanDataExportRequest".into(),
        obj(
            &["projects"],
            json!({"job_name": s(),
            "projects": {"type": "array", "items": i()}, "labels": {"type": "array", "items": i()},
            "repositories": s(), "cveIds": s(), "tags": s()}),
        ),
    );
    m.insert("ScanDataExportJob".into(), obj(&["id"], json!({"id": i()})));
    let export_execution = obj(
        &["id", "status", "trigger", "file_present"],
        json!({"id": i(), "user_id": nullable(i()),
            "status": s(), "trigger": s(), "start_time": nullable(t()), "end_time": nullable(t()), "status_text": s(),
            "user_name": s(), "job_name": s(), "file_present": b()}),
    );
    m.insert(
        "ScanDataExportExecutionList".into(),
        obj(
            &["items"],
            json!({"items": {"type": "array", "items": export_execution.clone()}}),
        ),
    );
    m.insert("ScanDataExportExecution".into(), export_execution);
    m.insert(
        "JobUpdate".into(),
        obj(
            &["status"],
            json!({"status": {"type": "string", "enum": ["Stopped"]}}),
        ),
    );
    m.insert("WebhookPolicy".into(), obj(&["name", "targets", "event_types"], json!({"id": i(), "name": s(), "description": s(), "project_id": i(),
            "targets": {"type": "array", "items": obj(&["address"], json!({"type": {"type": "string", "enum": ["http"]}, "address": s(), "auth_header": s(),
                "skip_cert_verify": b(), "payload_format": {"type": "string", "enum": ["Default", "CloudEvents"]}}))},
            "event_types": {"type": "array", "items": s()}, "creator": s(), "creation_time": t(), "update_time": t(), "enabled": b(),
            "secret": {"type": "string", "writeOnly": true, "description": "HMAC-SHA256 key of X-Wharf-Signature (never returned)"}})));
    m.insert("Execution".into(), obj(&["id", "vendor_type", "vendor_id", "status"], json!({"id": i(), "vendor_type": s(), "vendor_id": i(),
            "status": s(), "status_message": s(), "metrics": {"type": "object", "additionalProperties": {"type": "integer"}}, "trigger": s(),
            "extra_attrs": {"type": "object"}, "start_time": t(), "end_time": s()})));
    m.insert("Task".into(), obj(&["id", "execution_id", "status"], json!({"id": i(), "execution_id": i(), "status": s(), "status_message": s(),
            "run_count": i(), "extra_attrs": {"type": "object"}, "creation_time": t(), "start_time": t(), "update_time": t(), "end_time": s()})));
    m.insert("SupportedWebhookEventTypes".into(), obj(&["event_type", "notify_type"], json!({"event_type": {"type": "array", "items": s()},
            "notify_type": {"type": "array", "items": s()}, "payload_formats": {"type": "array", "items": obj(&[], json!({"notify_type": s(),
            "formats": {"type": "array", "items": s()}}))}})));
    Value::Object(m)
}
