//! Authentication on the `/v2` API, Docker-token style: requests carry a
//! bearer token from `/service/token` (or Basic credentials); what each
//! request needs is derived from its route; what is missing gets a 401 with a
//! `WWW-Authenticate` challenge naming the scope, or a 403 when credentials
//! were good but not enough. Also the token endpoint itself.

use axum::extract::{ConnectInfo, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use percent_encoding::percent_decode_str;

use super::{AppState, ClientAddr};
use crate::auth::rbac::{Decision, SystemAction, scope_actions};
use crate::auth::token::Claims;
use crate::auth::{Principal, project_of};
use crate::error::{ErrorCode, RegistryError};
use crate::service::{Access, Services};

/// What a request has shown about who it is.
#[derive(Debug, Clone)]
pub enum Grant {
    Anonymous,
    Token(std::sync::Arc<Claims>),
    Principal(Principal),
}

impl Grant {
    pub fn name(&self) -> &str {
        match self {
            Grant::Anonymous => "anonymous",
            Grant::Token(c) => &c.sub,
            Grant::Principal(p) => p.name(),
        }
    }
}

enum Need {
    Base,
    Catalog,
    Repo { name: String, action: &'static str },
}

pub enum Credentials {
    None,
    Bearer(String),
    Basic(String, String),
}

pub fn credentials(headers: &HeaderMap) -> Credentials {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Credentials::None;
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return Credentials::Bearer(rest.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok();
        if let Some((u, p)) = decoded
            .and_then(|d| String::from_utf8(d).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            })
        {
            return Credentials::Basic(u, p);
        }
    }
    Credentials::None
}

pub fn client_ip(req_ext: &axum::http::Extensions) -> Option<String> {
    req_ext
        .get::<ConnectInfo<ClientAddr>>()
        .map(|c| c.0.0.ip().to_string())
}

fn need(method: &Method, route: &str, name: Option<String>) -> Option<Need> {
    let name = name?;
    let action = match (route, method) {
        (r, _) if r.ends_with("/tags/list") || r.contains("/referrers/") => "pull",
        (r, &Method::GET | &Method::HEAD)
            if r.contains("/manifests/") || r.contains("/blobs/{digest}") =>
        {
            "pull"
        }
        (r, &Method::DELETE) if r.contains("/manifests/") || r.contains("/blobs/{digest}") => {
            "delete"
        }
        _ => "push",
    };
    Some(Need::Repo { name, action })
}

/// The token realm: the configured external URL, else this request's own host.
fn realm(reg: &Access, headers: &HeaderMap, tls: bool) -> String {
    format!("{}/service/token", base_url(reg, headers, tls))
}

/// The URL clients reach this registry at: `--external-url`, else the request's Host.
pub(super) fn base_url(reg: &Access, headers: &HeaderMap, tls: bool) -> String {
    if let Some(base) = reg.external_url() {
        return base.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("{}://{host}", if tls { "https" } else { "http" })
}

fn challenge(
    reg: &Access,
    headers: &HeaderMap,
    need: &Need,
    error: Option<&str>,
    message: &str,
) -> Response {
    let scope = match need {
        Need::Base => None,
        Need::Catalog => Some("registry:catalog:*".to_string()),
        Need::Repo {
            name,
            action: "push",
        } => Some(format!("repository:{name}:pull,push")),
        Need::Repo { name, action } => Some(format!("repository:{name}:{action}")),
    };
    let mut value = format!(
        "Bearer realm=\"{}\",service=\"{}\"",
        realm(reg, headers, reg.tls()),
        crate::auth::token::SERVICE
    );
    if let Some(s) = scope {
        value.push_str(&format!(",scope=\"{s}\""));
    }
    if let Some(e) = error {
        value.push_str(&format!(",error=\"{e}\""));
    }
    let mut resp = RegistryError::new(ErrorCode::Unauthorized, message).into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

async fn allowed(reg: &Access, grant: &Grant, need: &Need) -> Result<bool, RegistryError> {
    Ok(match (need, grant) {
        (Need::Base, Grant::Anonymous) => false,
        (Need::Base, _) => true,
        (Need::Catalog, Grant::Token(c)) => c.allows("registry", "catalog", "*"),
        (Need::Catalog, Grant::Principal(p)) => p.may_system(SystemAction::ReadCatalog),
        (Need::Repo { name, action }, Grant::Token(c)) => c.allows("repository", name, action),
        (Need::Repo { name, action }, Grant::Principal(p)) => {
            let needed = scope_actions(action).unwrap_or(&[]);
            // A missing project is answered from the same read that found it
            // missing: asking again in `refuse` raced with its creation (a
            // replication creating it meanwhile turned an administrator's 404
            // into "admin may not do this").
            for a in needed {
                match reg.may(p, project_of(name), *a).await? {
                    Decision::Allowed => {}
                    Decision::NoProject => return Err(no_project(name)),
                    Decision::Denied => return Ok(false),
                }
            }
            !needed.is_empty()
        }
        (_, Grant::Anonymous) => false,
    })
}

/// Middleware on every matched `/v2` route.
pub async fn authorize(
    State(reg): State<AppState>,
    matched: MatchedPath,
    params: RawPathParams,
    mut req: Request,
    next: Next,
) -> Response {
    if !reg.access.auth_enabled() {
        return next.run(req).await;
    }
    let route = matched.as_str().to_string();
    let name = params
        .iter()
        .find(|(k, _)| *k == "name")
        .map(|(_, v)| percent_decode_str(v).decode_utf8_lossy().into_owned());
    let need = match route.as_str() {
        "/v2/" => Need::Base,
        "/v2/_catalog" => Need::Catalog,
        _ => match need(req.method(), &route, name) {
            Some(n) => n,
            None => return next.run(req).await,
        },
    };
    let ip = client_ip(req.extensions());
    let grant = match credentials(req.headers()) {
        Credentials::None => Grant::Anonymous,
        Credentials::Bearer(t) => match reg.access.verify_token(&t) {
            Ok(claims) => Grant::Token(claims),
            Err(e) => {
                return challenge(
                    &reg.access,
                    req.headers(),
                    &need,
                    Some("invalid_token"),
                    &e.to_string(),
                );
            }
        },
        Credentials::Basic(u, p) => match reg.access.authenticate(&u, &p, ip.as_deref()).await {
            Ok(p) => Grant::Principal(p),
            Err(e @ RegistryError::RateLimited { .. }) => return e.into_response(),
            Err(_) => {
                return challenge(
                    &reg.access,
                    req.headers(),
                    &need,
                    None,
                    "invalid user name or password",
                );
            }
        },
    };
    match allowed(&reg.access, &grant, &need).await {
        Err(e) => return e.into_response(),
        Ok(false) => return refuse(&reg, &grant, &need, req.headers()).await,
        Ok(true) => {}
    }
    // A mount from a repository the caller may not read becomes a plain upload.
    if let Need::Repo { action: "push", .. } = &need
        && let Some(from) = mount_source(req.uri().query())
    {
        let from_need = Need::Repo {
            name: from,
            action: "pull",
        };
        if !allowed(&reg.access, &grant, &from_need)
            .await
            .unwrap_or(false)
        {
            strip_mount(&mut req);
        }
    }
    let method = req.method().clone();
    let reference = params
        .iter()
        .find(|(k, _)| *k == "reference" || *k == "digest")
        .map(|(_, v)| v.to_string());
    req.extensions_mut().insert(grant.clone());
    let resp = next.run(req).await;
    if resp.status().is_success()
        && let (Need::Repo { name, .. }, Some(reference)) = (&need, reference)
    {
        let op = match (&method, route.contains("/manifests/")) {
            (&Method::GET, true) => Some("pull"),
            (&Method::PUT, true) => Some("create"),
            (&Method::DELETE, _) => Some("delete"),
            _ => None,
        };
        if let Some(op) = op {
            let who = Principal::User {
                id: 0,
                name: grant.name().to_string(),
                sysadmin: false,
            };
            let kind = if route.contains("/manifests/") {
                "artifact"
            } else {
                "blob"
            };
            reg.access.audit(
                &who,
                op,
                kind,
                &format!("{name}:{reference}"),
                ip.as_deref(),
            );
        }
    }
    resp
}

/// The answer for a repository whose project does not exist.
fn no_project(name: &str) -> RegistryError {
    RegistryError::new(
        ErrorCode::NameUnknown,
        format!(
            "project {} does not exist; create it before pushing to {name}",
            project_of(name)
        ),
    )
}

async fn refuse(reg: &Services, grant: &Grant, need: &Need, headers: &HeaderMap) -> Response {
    if let Need::Repo { name, .. } = need {
        // Say so plainly when the project itself is missing.
        if let Ok(false) = reg.access.project_exists(project_of(name)).await {
            return no_project(name).into_response();
        }
    }
    match grant {
        Grant::Anonymous => challenge(&reg.access, headers, need, None, "authentication required"),
        Grant::Token(_) => challenge(
            &reg.access,
            headers,
            need,
            Some("insufficient_scope"),
            "the token does not grant this access",
        ),
        Grant::Principal(p) => {
            RegistryError::new(ErrorCode::Denied, format!("{} may not do this", p.name()))
                .into_response()
        }
    }
}

fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
}

fn mount_source(query: Option<&str>) -> Option<String> {
    let pairs: Vec<_> = query_pairs(query).collect();
    pairs.iter().any(|(k, _)| k == "mount").then(|| {
        pairs
            .iter()
            .find(|(k, _)| k == "from")
            .map(|(_, v)| v.clone())
    })?
}

fn strip_mount(req: &mut Request) {
    let kept: Vec<String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.starts_with("mount=") && !p.starts_with("from="))
        .map(str::to_owned)
        .collect();
    let pq = if kept.is_empty() {
        req.uri().path().to_string()
    } else {
        format!("{}?{}", req.uri().path(), kept.join("&"))
    };
    if let Ok(uri) = pq.parse() {
        *req.uri_mut() = uri;
    }
}

/// `GET /service/token?service=wharf&scope=…`: Basic credentials (or none,
/// for anonymous pulls of public projects) in, a signed bearer token out.
pub async fn token(State(reg): State<AppState>, req: Request) -> Response {
    if !reg.access.auth_enabled() {
        return RegistryError::NotEnabled("authentication is not enabled on this registry".into())
            .into_response();
    }
    let ip = client_ip(req.extensions());
    let principal = match credentials(req.headers()) {
        Credentials::Basic(u, p) => match reg.access.authenticate(&u, &p, ip.as_deref()).await {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        },
        _ => Principal::Anonymous,
    };
    let scopes: Vec<String> = query_pairs(req.uri().query())
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v)
        .collect();
    match reg.access.issue_token(&principal, &scopes).await {
        Ok(t) => (StatusCode::OK, axum::Json(t)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_sources_and_query_parsing() {
        assert_eq!(
            mount_source(Some("mount=sha256:x&from=library%2Fapp")).as_deref(),
            Some("library/app")
        );
        assert_eq!(mount_source(Some("from=library/app")), None);
        assert_eq!(mount_source(None), None);
        let scopes: Vec<_> = query_pairs(Some(
            "scope=repository%3Aa%2Fb%3Apull&scope=repository:c:push&service=wharf",
        ))
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v)
        .collect();
        assert_eq!(scopes, ["repository:a/b:pull", "repository:c:push"]);
    }

    #[test]
    fn basic_credentials_parse() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            "Basic YWxpY2U6cDpzcw==".parse().unwrap(),
        ); // alice:p:ss
        assert!(matches!(credentials(&h), Credentials::Basic(u, p) if u == "alice" && p == "p:ss"));
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert!(matches!(credentials(&h), Credentials::Bearer(t) if t == "abc"));
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(matches!(credentials(&h), Credentials::None));
    }
}
