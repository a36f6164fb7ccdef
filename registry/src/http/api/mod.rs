//! The management API under `/api/v2.0`, shaped like Harbor's v2.0 API (same
//! paths, request and response bodies) so Harbor clients and scripts work.
//! Credentials: HTTP Basic (users and robots), as with Harbor.

mod members;
mod projects;
mod repositories;
mod robots;
mod security;
mod system;
mod users;

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
/// operation, so the published document cannot drift from what is served.
macro_rules! api_routes {
    ($( $method:ident $path:literal => $handler:path, $tag:literal, $summary:literal; )*) => {
        pub fn router() -> Router<AppState> {
            let mut r = Router::new().route("/api/v2.0/openapi.json", get(openapi_document));
            $( r = r.route(concat!("/api/v2.0", $path), axum::routing::$method($handler)); )*
            r
        }

        /// (method, path, tag, summary) of every operation.
        pub const OPERATIONS: &[(&str, &str, &str, &str)] = &[ $( (stringify!($method), $path, $tag, $summary), )* ];
    };
}

api_routes! {
    get "/ping" => system::ping, "system", "Liveness: answers Pong";
    get "/health" => system::health, "system", "Health of the components";
    get "/systeminfo" => system::info, "system", "Version and authentication mode";
    get "/audit-logs" => system::audit_logs, "auditlog", "The audit log (system administrators)";
    get "/projects" => projects::list, "project", "Projects visible to the caller";
    post "/projects" => projects::create, "project", "Create a project; the creator becomes its project admin";
    head "/projects" => projects::exists, "project", "Whether a project exists (?project_name=)";
    get "/projects/{project_name_or_id}" => projects::get, "project", "One project";
    put "/projects/{project_name_or_id}" => projects::update, "project", "Update a project's metadata (public)";
    delete "/projects/{project_name_or_id}" => projects::delete, "project", "Delete an empty project";
    get "/projects/{project_name_or_id}/logs" => system::project_logs, "project", "The project's audit log";
    get "/projects/{project_name_or_id}/members" => members::list, "member", "Members and their roles";
    post "/projects/{project_name_or_id}/members" => members::add, "member", "Add a member with a role_id";
    get "/projects/{project_name_or_id}/members/{mid}" => members::get, "member", "One member";
    put "/projects/{project_name_or_id}/members/{mid}" => members::update, "member", "Change a member's role";
    delete "/projects/{project_name_or_id}/members/{mid}" => members::remove, "member", "Remove a member";
    get "/projects/{project_name_or_id}/robots" => robots::list_in_project, "robot", "The project's robot accounts";
    get "/projects/{project_name}/repositories" => repositories::list, "repository", "Repositories of a project";
    delete "/projects/{project_name}/repositories/{repository_name}" => repositories::delete, "repository", "Delete a repository";
    get "/projects/{project_name}/repositories/{repository_name}/artifacts" => repositories::artifacts, "artifact", "Artifacts with tags and accessories";
    get "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}" => repositories::artifact, "artifact", "One artifact by tag or digest";
    delete "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}" => repositories::delete_artifact, "artifact", "Delete an artifact and its accessories";
    get "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags" => repositories::tags, "artifact", "Tags of an artifact";
    post "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags" => repositories::add_tag, "artifact", "Add a tag to an artifact";
    delete "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}" => repositories::delete_tag, "artifact", "Delete a tag";
    post "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/scan" => repositories::scan, "scan", "Scan an artifact for vulnerabilities (202; runs in the background)";
    get "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/additions/vulnerabilities" => repositories::vulnerabilities, "scan", "The artifact's vulnerability report";
    get "/system/CVEAllowlist" => security::get_allowlist, "system", "The system CVE allow-list";
    put "/system/CVEAllowlist" => security::put_allowlist, "system", "Replace the system CVE allow-list";
    get "/system/scanAll/schedule" => security::get_schedule, "scanAll", "The scan-all schedule";
    post "/system/scanAll/schedule" => security::set_schedule, "scanAll", "Set the scan-all schedule (type Manual: scan everything now)";
    put "/system/scanAll/schedule" => security::set_schedule, "scanAll", "Change the scan-all schedule";
    get "/scans/all/metrics" => security::metrics, "scanAll", "Scan counts by status";
    get "/scans/schedule/metrics" => security::metrics, "scanAll", "Scan counts by status (scheduled scans)";
    get "/users" => users::list, "user", "Users (system administrators)";
    post "/users" => users::create, "user", "Create a user (system administrators)";
    get "/users/current" => users::current, "user", "The calling user";
    get "/users/{user_id}" => users::get, "user", "One user";
    delete "/users/{user_id}" => users::delete, "user", "Delete a user";
    put "/users/{user_id}/password" => users::password, "user", "Change a password";
    put "/users/{user_id}/sysadmin" => users::sysadmin, "user", "Grant or revoke system administration";
    get "/robots" => robots::list, "robot", "Robot accounts (?q=Level=project,ProjectID=N)";
    post "/robots" => robots::create, "robot", "Create a robot; its secret is returned once";
    get "/robots/{robot_id}" => robots::get, "robot", "One robot";
    put "/robots/{robot_id}" => robots::update, "robot", "Update (disable, permissions, duration)";
    delete "/robots/{robot_id}" => robots::delete, "robot", "Delete a robot";
    patch "/robots/{robot_id}" => robots::refresh, "robot", "Refresh the secret (given or generated)";
}

/// OpenAPI 3.0 built from [`OPERATIONS`].
pub fn openapi() -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let mut paths = Map::new();
    for (method, path, tag, summary) in OPERATIONS {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let op = json!({
            "tags": [tag],
            "summary": summary,
            "operationId": format!("{method}_{}", path.replace(['/', '{', '}', '-'], "_").trim_matches('_')),
            "parameters": params,
            "responses": {
                "200": {"description": "Success"},
                "201": {"description": "Created (Location names the new resource)"},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"}
            }
        });
        let entry = paths.entry(path.to_string()).or_insert_with(|| Value::Object(Map::new()));
        entry[*method] = op;
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
            "schemas": {"Errors": {"type": "object", "properties": {"errors": {"type": "array", "items": {
                "type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}}
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
        let ops: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(ops, super::OPERATIONS.len());
        assert_eq!(doc["paths"]["/projects/{project_name_or_id}/members/{mid}"]["put"]["parameters"].as_array().unwrap().len(), 2);
    }
}

/// The authenticated caller of a management request, and where from.
pub struct Caller {
    pub who: Principal,
    pub ip: Option<String>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = RegistryError;

    async fn from_request_parts(parts: &mut Parts, reg: &AppState) -> Result<Self, Self::Rejection> {
        if !reg.auth_enabled() {
            return Err(RegistryError::new(ErrorCode::Unsupported, "the management API needs authentication enabled (wharf serve --auth)")
                .with_status(axum::http::StatusCode::NOT_FOUND));
        }
        let ip = client_ip(&parts.extensions);
        let who = match credentials(&parts.headers) {
            Credentials::Basic(u, p) => reg.authenticate(&u, &p, ip.as_deref()).await?,
            Credentials::Bearer(_) => {
                return Err(RegistryError::new(ErrorCode::Unauthorized, "the management API takes Basic credentials"));
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
        PageReq { page: self.page.unwrap_or(1).max(1), page_size: self.page_size.unwrap_or(10).clamp(1, 100) }
    }
}

/// A page of results with Harbor's `X-Total-Count` and `Link` headers.
pub fn paged<T: serde::Serialize>(path: &str, page: PageReq, total: i64, items: Vec<T>) -> Response {
    let mut resp = axum::Json(items).into_response();
    let h = resp.headers_mut();
    h.insert("X-Total-Count", HeaderValue::from(total));
    let mut links = Vec::new();
    if page.page > 1 {
        links.push(format!("<{path}?page={}&page_size={}>; rel=\"prev\"", page.page - 1, page.page_size));
    }
    if (page.page as i64) * (page.page_size as i64) < total {
        links.push(format!("<{path}?page={}&page_size={}>; rel=\"next\"", page.page + 1, page.page_size));
    }
    if !links.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&links.join(" , ")) {
            h.insert(header::LINK, v);
        }
    }
    resp
}

/// 201 with the new resource's location, as Harbor answers creations.
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
