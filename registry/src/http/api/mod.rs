//! The management API under `/api/v2.0`, shaped like Harbor's v2.0 API (same
//! paths, request and response bodies) so Harbor clients and scripts work.
//! Credentials: HTTP Basic (users and robots), as with Harbor.

mod configurations;
mod export;
mod gc;
mod immutable;
mod jobs;
mod labels;
mod ldap;
mod members;
mod projects;
mod quotas;
mod registries;
mod render;
mod replication;
mod repositories;
mod retention;
mod robots;
mod roles;
mod schemas;
mod security;
mod security_hub;
mod system;
mod usergroups;
mod users;
mod webhooks;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use super::auth::{Credentials, client_ip, credentials};
use crate::auth::Principal;
use crate::error::{ErrorCode, RegistryError};
use crate::metadata::identity::PageReq;

/// The API's one route table: each line makes a route AND an OpenAPI
/// operation (with its request and response schemas from [`schemas`]), so the
/// published document cannot drift from what is served.
macro_rules! api_routes {
    ($( $method:ident $path:literal => $handler:path, $tag:literal, $summary:literal $(, in $req:literal)? $(, out $resp:literal)? ; )*) => {
        pub fn router() -> Router<AppState> {
            let mut r = Router::new().route("/api/v2.0/openapi.json", get(openapi_document));
            $( r = r.route(concat!("/api/v2.0", $path), axum::routing::$method($handler)); )*
            r
        }

        /// Every operation of the API.
        pub const OPERATIONS: &[Operation] = &[ $( Operation {
            method: stringify!($method),
            path: $path,
            tag: $tag,
            summary: $summary,
            request: { #[allow(unused_variables)] let r: Option<&str> = None; $( let r = Some($req); )? r },
            response: { #[allow(unused_variables)] let r: Option<&str> = None; $( let r = Some($resp); )? r },
        }, )* ];
    };
}

/// One operation: its route, OpenAPI tag and summary, and the schemas of its
/// bodies (`[Name]` is an array of `Name`).
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub request: Option<&'static str>,
    pub response: Option<&'static str>,
}

api_routes! {
    get "/ping" => system::ping, "system", "Liveness: answers Pong";
    get "/health" => system::health, "system", "Health of the components", out "Health";
    get "/systeminfo" => system::info, "system", "Version and authentication mode", out "SystemInfo";
    get "/audit-logs" => system::audit_logs, "auditlog", "The audit log (system administrators)", out "[AuditLog]";
    get "/projects" => projects::list, "project", "Projects visible to the caller", out "[Project]";
    post "/projects" => projects::create, "project", "Create a project; the creator becomes its project admin", in "ProjectReq";
    head "/projects" => projects::exists, "project", "Whether a project exists (?project_name=)";
    get "/projects/{project_name_or_id}" => projects::get, "project", "One project", out "Project";
    put "/projects/{project_name_or_id}" => projects::update, "project", "Update a project's metadata (public, scanning, pull gate) and CVE allow-list", in "ProjectReq";
    delete "/projects/{project_name_or_id}" => projects::delete, "project", "Delete an empty project";
    get "/projects/{project_name_or_id}/logs" => system::project_logs, "project", "The project's audit log", out "[AuditLog]";
    get "/projects/{project_name_or_id}/members" => members::list, "member", "Members and their roles", out "[Member]";
    post "/projects/{project_name_or_id}/members" => members::add, "member", "Add a member with a role_id", in "MemberReq";
    get "/projects/{project_name_or_id}/members/{mid}" => members::get, "member", "One member", out "Member";
    put "/projects/{project_name_or_id}/members/{mid}" => members::update, "member", "Change a member's role", in "RoleReq";
    delete "/projects/{project_name_or_id}/members/{mid}" => members::remove, "member", "Remove a member";
    get "/projects/{project_name_or_id}/robots" => robots::list_in_project, "robot", "The project's robot accounts", out "[Robot]";
    get "/projects/{project_name}/repositories" => repositories::list, "repository", "Repositories of a project", out "[Repository]";
    delete "/projects/{project_name}/repositories/{repository_name}" => repositories::delete, "repository", "Delete a repository";
    get "/projects/{project_name}/repositories/{repository_name}/artifacts" => repositories::artifacts, "artifact", "Artifacts with tags (?with_accessory, ?with_scan_overview, ?with_sbom_overview); cosign's signature, attestation and SBOM tags are accessories, not artifacts", out "[Artifact]";
    get "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}" => repositories::artifact, "artifact", "One artifact by tag or digest (?with_accessory, ?with_scan_overview, ?with_sbom_overview, ?with_signature)", out "Artifact";
    get "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/accessories" => repositories::accessories, "artifact", "The artifact's accessories: referrers and cosign's .sig/.att/.sbom tags", out "[Accessory]";
    delete "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}" => repositories::delete_artifact, "artifact", "Delete an artifact and its accessories";
    get "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags" => repositories::tags, "artifact", "Tags of an artifact", out "[Tag]";
    post "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags" => repositories::add_tag, "artifact", "Add a tag to an artifact", in "TagReq";
    delete "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}" => repositories::delete_tag, "artifact", "Delete a tag";
    post "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/scan" => repositories::scan, "scan", "Scan an artifact, or generate its SBOM (202; runs in the background)", in "ScanReq";
    post "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/scan/stop" => repositories::stop_scan, "scan", "Stop the artifact's pending or running scan (202; 404 never scanned, 400 already ended)";
    get "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/additions/vulnerabilities" => repositories::vulnerabilities, "scan", "The artifact's vulnerability report", out "VulnerabilityReport";
    post "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/labels" => labels::add_to_artifact, "artifact", "Put a label on an artifact ({\"id\": N}: a global label or one of the project's; 409 if it carries it already)", in "ArtifactLabelReq";
    delete "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/labels/{label_id}" => labels::remove_from_artifact, "artifact", "Take a label off an artifact";
    get "/labels" => labels::list, "label", "Labels (?scope=g global, or ?scope=p&project_id=N; ?name= exact, ?q=name=~part; paging)", out "[Label]";
    post "/labels" => labels::create, "label", "Create a label: scope g (system administrators) or p with project_id (the project's administrators and maintainers); names are unique in their scope (409)", in "Label";
    get "/labels/{label_id}" => labels::get, "label", "One label", out "Label";
    put "/labels/{label_id}" => labels::update, "label", "Change a label's name, description and color", in "Label";
    delete "/labels/{label_id}" => labels::delete, "label", "Delete a label and take it off every artifact";
    get "/users" => users::list, "user", "Users (system administrators)", out "[User]";
    post "/users" => users::create, "user", "Create a user (system administrators)", in "UserReq";
    get "/users/current" => users::current, "user", "The calling user", out "User";
    get "/users/{user_id}" => users::get, "user", "One user", out "User";
    delete "/users/{user_id}" => users::delete, "user", "Delete a user";
    put "/users/{user_id}/password" => users::password, "user", "Change a password", in "PasswordReq";
    put "/users/{user_id}/cli_secret" => users::cli_secret, "user", "Set an OIDC user's CLI secret (the user or a system administrator; 8 to 128 characters with upper- and lower-case letters and a digit)", in "OIDCCliSecretReq";
    put "/users/{user_id}/sysadmin" => users::sysadmin, "user", "Grant or revoke system administration", in "SysAdminReq";
    get "/robots" => robots::list, "robot", "Robot accounts (?q=Level=project,ProjectID=N)", out "[Robot]";
    post "/robots" => robots::create, "robot", "Create a robot; its secret is returned once", in "RobotReq", out "RobotCreated";
    get "/robots/{robot_id}" => robots::get, "robot", "One robot", out "Robot";
    put "/robots/{robot_id}" => robots::update, "robot", "Update (disable, permissions, duration)", in "RobotReq";
    delete "/robots/{robot_id}" => robots::delete, "robot", "Delete a robot";
    patch "/robots/{robot_id}" => robots::refresh, "robot", "Refresh the secret (given or generated)", in "RobotSec", out "RobotSec";
    get "/system/CVEAllowlist" => security::get_allowlist, "system", "The system CVE allow-list", out "CVEAllowlist";
    put "/system/CVEAllowlist" => security::put_allowlist, "system", "Replace the system CVE allow-list", in "CVEAllowlist";
    get "/system/scanAll/schedule" => security::get_schedule, "scanAll", "The scan-all schedule", out "Schedule";
    post "/system/scanAll/schedule" => security::set_schedule, "scanAll", "Set the scan-all schedule (type Manual: scan everything now)", in "Schedule";
    put "/system/scanAll/schedule" => security::set_schedule, "scanAll", "Change the scan-all schedule", in "Schedule";
    post "/system/scanAll/stop" => security::stop_all, "scanAll", "Stop every pending and running scan (202; 400 when none is)";
    get "/scans/all/metrics" => security::metrics, "scanAll", "Scan counts by status", out "ScanMetrics";
    get "/scans/schedule/metrics" => security::metrics, "scanAll", "Scan counts by status (scheduled scans)", out "ScanMetrics";
    get "/security/summary" => security_hub::summary, "securityhub", "Vulnerabilities of every artifact at a glance (?with_dangerous_cve, ?with_dangerous_artifact)", out "SecuritySummary";
    get "/security/vul" => security_hub::list, "securityhub", "Vulnerabilities of every artifact (?q=cve_id=…,severity=…,cvss_score_v3=[a~b],package=…,project_id=…,repository_name=…,tag=…,digest=…; ?with_tag, ?tune_count)", out "[VulnerabilityItem]";
    post "/export/cve" => export::create, "scanDataExport", "Export the scan findings of projects as CSV (a job; ?repositories, tags, cveIds filters)", in "ScanDataExportRequest", out "ScanDataExportJob";
    get "/export/cve/executions" => export::list, "scanDataExport", "The caller's CVE exports", out "ScanDataExportExecutionList";
    get "/export/cve/execution/{execution_id}" => export::get, "scanDataExport", "One of the caller's CVE exports", out "ScanDataExportExecution";
    get "/export/cve/download/{execution_id}" => export::download, "scanDataExport", "The CSV of a finished CVE export (text/csv)";
    get "/vul/summary" => security_hub::summary, "securityhub", "Same as /security/summary", out "SecuritySummary";
    get "/vul/vulnerabilities" => security_hub::list, "securityhub", "Same as /security/vul", out "[VulnerabilityItem]";
    get "/projects/{project_name_or_id}/immutabletagrules" => immutable::list, "immutable", "The project's tag immutability rules", out "[ImmutableRule]";
    post "/projects/{project_name_or_id}/immutabletagrules" => immutable::create, "immutable", "Add an immutability rule: covered tags never move to another digest and are never deleted", in "ImmutableRule";
    put "/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}" => immutable::update, "immutable", "Change a rule (a body of only {disabled} switches it off or on)", in "ImmutableRule";
    delete "/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}" => immutable::delete, "immutable", "Remove a rule";
    get "/projects/{project_name_or_id}/summary" => quotas::summary, "project", "Repository count and storage quota (hard and used bytes)", out "ProjectSummary";
    get "/quotas" => quotas::list, "quota", "Project quotas (?reference=project&reference_id=N). Usage: the distinct blobs the project's manifests reference plus the distinct manifests' bytes, each digest once per project", out "[Quota]";
    get "/quotas/{id}" => quotas::get, "quota", "One project's quota (its id is the project's)", out "Quota";
    put "/quotas/{id}" => quotas::update, "quota", "Set a project's storage limit in bytes (-1 unlimited)", in "QuotaUpdateReq";
    get "/retentions/metadatas" => retention::metadatas, "retention", "Retention rule templates and selectors", out "RetentionMetadata";
    post "/retentions" => retention::create, "retention", "Create a project's retention policy (one per project; its id becomes the project's retention_id)", in "RetentionPolicy";
    get "/retentions/{id}" => retention::get, "retention", "One retention policy", out "RetentionPolicy";
    put "/retentions/{id}" => retention::update, "retention", "Replace a retention policy", in "RetentionPolicy";
    delete "/retentions/{id}" => retention::delete, "retention", "Delete a retention policy";
    post "/retentions/{id}/executions" => retention::execute, "retention", "Run the policy now ({dry_run}: decide and log, delete nothing)", in "RetentionExecutionReq";
    get "/retentions/{id}/executions" => retention::executions, "retention", "Runs of the policy, newest first", out "[RetentionExecution]";
    patch "/retentions/{id}/executions/{eid}" => retention::stop, "retention", "Stop a run ({\"action\":\"stop\"})", in "RetentionStopReq";
    get "/retentions/{id}/executions/{eid}/tasks" => retention::tasks, "retention", "A run's tasks, one per repository", out "[RetentionTask]";
    get "/retentions/{id}/executions/{eid}/tasks/{tid}" => retention::task_log, "retention", "A task's log (text): every artifact retained or deleted";
    get "/jobs" => jobs::list, "job", "Jobs of the durable queue, newest first (?kind=, ?status=, paging)", out "[Job]";
    get "/jobs/{job_id}" => jobs::get, "job", "One job", out "Job";
    put "/jobs/{job_id}" => jobs::update, "job", "Stop a job: {\"status\":\"Stopped\"}", in "JobUpdate", out "Job";
    get "/jobs/{job_id}/log" => jobs::log, "job", "The job's log (text/plain)";
    post "/jobs/{job_id}/retry" => jobs::retry, "job", "Run a job that ended in Error or Stopped again", out "Job";
    get "/system/gc/schedule" => gc::get_schedule, "gc", "The GC schedule and its parameters", out "GCSchedule";
    post "/system/gc/schedule" => gc::set_schedule, "gc", "Set the GC schedule (type Manual: run GC now; 201 with its location)", in "GCSchedule";
    put "/system/gc/schedule" => gc::set_schedule, "gc", "Change the GC schedule", in "GCSchedule";
    get "/system/gc" => gc::gc_history, "gc", "GC runs, newest first (paging)", out "[GCHistory]";
    get "/system/gc/{gc_id}" => gc::gc_get, "gc", "One GC run", out "GCHistory";
    put "/system/gc/{gc_id}" => gc::gc_stop, "gc", "Stop a GC run";
    get "/system/gc/{gc_id}/log" => gc::gc_log, "gc", "A GC run's log (text/plain)";
    post "/system/scrub" => gc::scrub_run, "scrub", "Re-hash every blob and manifest now (201 with the run's location)", in "ScrubReq";
    get "/system/scrub" => gc::scrub_history, "scrub", "Scrub runs, newest first (paging)", out "[GCHistory]";
    get "/system/scrub/{scrub_id}" => gc::scrub_get, "scrub", "One scrub run", out "GCHistory";
    get "/system/scrub/{scrub_id}/log" => gc::scrub_log, "scrub", "A scrub run's log (text/plain)";
    get "/projects/{project_name_or_id}/webhook/policies" => webhooks::list, "webhook", "The project's webhook policies (secrets are never shown)", out "[WebhookPolicy]";
    post "/projects/{project_name_or_id}/webhook/policies" => webhooks::create, "webhook", "Add a webhook policy (targets, event_types; Wharf's `secret` signs every delivery with HMAC-SHA256 in X-Wharf-Signature)", in "WebhookPolicy";
    get "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}" => webhooks::get, "webhook", "One webhook policy", out "WebhookPolicy";
    put "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}" => webhooks::update, "webhook", "Replace a webhook policy (without `secret`, the stored secret stays)", in "WebhookPolicy";
    delete "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}" => webhooks::delete, "webhook", "Remove a webhook policy and its delivery log";
    get "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions" => webhooks::executions, "webhook", "Deliveries of the policy, newest first: one execution per event and target", out "[Execution]";
    get "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks" => webhooks::tasks, "webhook", "The delivery's task (run_count: attempts)", out "[Task]";
    get "/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks/{task_id}/log" => webhooks::task_log, "webhook", "The delivery's log (text): one line per attempt with its status code or error";
    get "/projects/{project_name_or_id}/webhook/events" => webhooks::events, "webhook", "Supported event types, target types and payload formats", out "SupportedWebhookEventTypes";
    get "/registries" => registries::list, "registry", "Registry endpoints (?name= filters); secrets shown as *****", out "[Registry]";
    post "/registries" => registries::create, "registry", "Add a registry endpoint (201 with its location); its secret is stored encrypted", in "Registry";
    post "/registries/ping" => registries::ping, "registry", "Check that an endpoint (stored: id; or new) answers and accepts its credentials (400 with the reason if not)", in "RegistryPing";
    get "/registries/{id}" => registries::get, "registry", "One registry endpoint", out "Registry";
    put "/registries/{id}" => registries::update, "registry", "Change an endpoint (only the fields given; access_secret ***** keeps the stored one)", in "RegistryUpdate";
    delete "/registries/{id}" => registries::delete, "registry", "Remove a registry endpoint (412 while a replication policy uses it)";
    get "/replication/policies" => replication::list, "replication", "Replication policies (?name= filters)", out "[ReplicationPolicy]";
    post "/replication/policies" => replication::create, "replication", "Add a replication policy: one side this registry (omitted, null or id 0), the other a registry endpoint (201 with its location)", in "ReplicationPolicy";
    get "/configurations" => configurations::get, "configure", "The authentication mode and LDAP settings: {name: {value, editable}} (system administrators; ldap_search_password never shown)", out "ConfigurationsResponse";
    put "/configurations" => configurations::put, "configure", "Change configuration items ({name: value}); changing auth_mode is refused while users other than admin exist, unless ?force=true", in "Configurations";
    post "/ldap/ping" => ldap::ping, "ldap", "Connect and bind with the stored LDAP settings, or with the ldap_* items given", in "Configurations", out "LdapPingResult";
    get "/ldap/users/search" => ldap::search_users, "ldap", "Directory users whose uid contains ?username=", out "[LdapUser]";
    get "/ldap/groups/search" => ldap::search_groups, "ldap", "Directory groups by ?groupname= (contains) or ?groupdn= (exact)", out "[UserGroup]";
    post "/ldap/users/import" => ldap::import_users, "ldap", "Create users from the directory by uid (404 with the failures when some could not be)", in "LdapImportUsers";
    get "/usergroups" => usergroups::list, "usergroup", "User groups (?group_name= contains, ?ldap_group_dn= exact; paging)", out "[UserGroup]";
    post "/usergroups" => usergroups::create, "usergroup", "Add a user group: group_type 1 with ldap_group_dn (checked in the directory in ldap_auth mode), or 3 with group_name", in "UserGroup";
    get "/usergroups/search" => usergroups::search, "usergroup", "User groups whose name contains ?groupname= (all when empty; any signed-in account: for member forms)", out "[UserGroup]";
    get "/usergroups/{group_id}" => usergroups::get, "usergroup", "One user group", out "UserGroup";
    put "/usergroups/{group_id}" => usergroups::update, "usergroup", "Rename a user group", in "UserGroup";
    delete "/usergroups/{group_id}" => usergroups::delete, "usergroup", "Remove a user group from every project and user";
    get "/roles" => roles::list, "role", "Project roles: the five built in (ids 1-5) and custom ones, each with its project actions", out "[Role]";
    post "/roles" => roles::create, "role", "Define a custom project role from the permission table's project actions (system administrators; 201 with its location)", in "Role";
    get "/roles/{id}" => roles::get, "role", "One project role", out "Role";
    put "/roles/{id}" => roles::update, "role", "Change a custom role's name, description or actions (built-in roles cannot be changed)", in "Role";
    delete "/roles/{id}" => roles::delete, "role", "Remove a custom role (409 while members hold it)";
    get "/replication/policies/{id}" => replication::get, "replication", "One replication policy", out "ReplicationPolicy";
    put "/replication/policies/{id}" => replication::update, "replication", "Replace a replication policy", in "ReplicationPolicy";
    delete "/replication/policies/{id}" => replication::delete, "replication", "Remove a replication policy";
    post "/replication/executions" => replication::start, "replication", "Run a policy now (201 with the execution's location)", in "StartReplicationExecution";
    get "/replication/executions" => replication::executions, "replication", "Runs, newest first (?policy_id=, page, page_size)", out "[ReplicationExecution]";
    get "/replication/executions/{id}" => replication::execution, "replication", "One run, with its task counts", out "ReplicationExecution";
    put "/replication/executions/{id}" => replication::stop, "replication", "Stop a run (its tasks not yet done end Stopped)";
    get "/replication/executions/{id}/tasks" => replication::tasks, "replication", "A run's tasks, one per artifact", out "[ReplicationTask]";
    get "/replication/executions/{id}/tasks/{tid}/log" => replication::task_log, "replication", "A task's log (text)";
}

/// `Name` → `$ref`, `[Name]` → array of `$ref`.
fn schema_ref(name: &str) -> serde_json::Value {
    match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(inner) => {
            serde_json::json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{inner}")}})
        }
        None => serde_json::json!({"$ref": format!("#/components/schemas/{name}")}),
    }
}

/// OpenAPI 3.0 built from [`OPERATIONS`].
pub fn openapi() -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let mut paths = Map::new();
    for op in OPERATIONS {
        let params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let ok = match op.response {
            Some(schema) => {
                json!({"description": "Success", "content": {"application/json": {"schema": schema_ref(schema)}}})
            }
            None => json!({"description": "Success"}),
        };
        let mut entry = json!({
            "tags": [op.tag],
            "summary": op.summary,
            "operationId": format!("{}_{}", op.method, op.path.replace(['/', '{', '}', '-'], "_").trim_matches('_')),
            "parameters": params,
            "responses": {
                "200": ok,
                "201": {"description": "Created (Location names the new resource)"},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"}
            }
        });
        if let Some(schema) = op.request {
            entry["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema_ref(schema)}}});
        }
        let slot = paths
            .entry(op.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        slot[op.method] = entry;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Wharf management API (Harbor v2.0 compatible)", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": "/api/v2.0"}],
        "security": [{"basic": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
            "responses": {"Error": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}}},
            "schemas": schemas::components()
        }
    })
}

async fn openapi_document() -> axum::Json<serde_json::Value> {
    axum::Json(openapi())
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_lists_every_route_once() {
        let doc = super::openapi();
        let ops: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(ops, super::OPERATIONS.len());
        assert_eq!(
            doc["paths"]["/projects/{project_name_or_id}/members/{mid}"]["put"]["parameters"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    /// Every schema a route names exists, and every `$ref` inside the schemas resolves.
    #[test]
    fn every_schema_reference_resolves() {
        let doc = super::openapi();
        let schemas = &doc["components"]["schemas"];
        for op in super::OPERATIONS {
            for name in op.request.iter().chain(op.response.iter()) {
                let bare = name.trim_start_matches('[').trim_end_matches(']');
                assert!(
                    schemas.get(bare).is_some(),
                    "{} {}: no schema {bare}",
                    op.method,
                    op.path
                );
            }
        }
        fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                        out.push(r.to_string());
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in all {
            let path = r.trim_start_matches("#/");
            assert!(doc.pointer(&format!("/{path}")).is_some(), "dangling {r}");
        }
    }
}

/// The authenticated caller of a management request, and where from.
pub struct Caller {
    pub who: Principal,
    pub ip: Option<String>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = RegistryError;

    async fn from_request_parts(
        parts: &mut Parts,
        reg: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if !reg.access.auth_enabled() {
            return Err(RegistryError::NotEnabled(
                "the management API needs authentication enabled (wharf serve --auth)".into(),
            ));
        }
        let ip = client_ip(&parts.extensions);
        let who = match credentials(&parts.headers) {
            Credentials::Basic(u, p) => reg.access.authenticate(&u, &p, ip.as_deref()).await?,
            Credentials::Bearer(_) => {
                return Err(RegistryError::new(
                    ErrorCode::Unauthorized,
                    "the management API takes Basic credentials",
                ));
            }
            Credentials::None => Principal::Anonymous,
        };
        Ok(Caller { who, ip })
    }
}

#[derive(Deserialize)]
pub struct Paging {
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

impl Paging {
    pub fn req(&self) -> PageReq {
        PageReq {
            page: self.page.unwrap_or(1).max(1),
            page_size: self.page_size.unwrap_or(10).clamp(1, 100),
        }
    }
}

/// A whole listing (not paged), with Harbor's `X-Total-Count`.
pub fn counted<T: serde::Serialize>(items: Vec<T>) -> Response {
    let total = items.len();
    let mut resp = axum::Json(items).into_response();
    resp.headers_mut().insert("X-Total-Count", total.into());
    resp
}

/// A page of results with Harbor's `X-Total-Count` and `Link` headers.
pub fn paged<T: serde::Serialize>(
    path: &str,
    page: PageReq,
    total: i64,
    items: Vec<T>,
) -> Response {
    let mut resp = axum::Json(items).into_response();
    let h = resp.headers_mut();
    h.insert("X-Total-Count", HeaderValue::from(total));
    let mut links = Vec::new();
    if page.page > 1 {
        links.push(format!(
            "<{path}?page={}&page_size={}>; rel=\"prev\"",
            page.page - 1,
            page.page_size
        ));
    }
    if (page.page as i64) * (page.page_size as i64) < total {
        links.push(format!(
            "<{path}?page={}&page_size={}>; rel=\"next\"",
            page.page + 1,
            page.page_size
        ));
    }
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(" , "))
    {
        h.insert(header::LINK, v);
    }
    resp
}

/// 201 with the new resource's location, as Harbor answers creations.
/// A JSON request body. axum's `Json` answers a body it cannot read in plain
/// text (400, 415, 422); this answers like every other API error, with Harbor's
/// `{"errors":[…]}` body saying what is wrong and where.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = RegistryError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(RegistryError::api(
                crate::error::ApiErrorKind::UnsupportedMediaType,
                "send the request body as JSON, with Content-Type: application/json",
            )),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(RegistryError::bad_request(format!(
                "the request body is not valid JSON: {}",
                std::error::Error::source(&e).map_or_else(|| e.body_text(), |s| s.to_string())
            ))),
            Err(JsonRejection::JsonDataError(e)) => Err(RegistryError::bad_request(format!(
                "the request body does not fit: {}",
                std::error::Error::source(&e).map_or_else(|| e.body_text(), |s| s.to_string())
            ))),
            Err(e) => Err(RegistryError::bad_request(e.body_text())),
        }
    }
}

pub fn created(location: String) -> Response {
    let mut resp = axum::http::StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

pub fn time(secs: i64) -> String {
    crate::service::time_rfc3339(secs)
}
