//! The portal: the web UI served at `/` by the same process as `/v2` and
//! `/api/v2.0`. Pages are rendered on the server with `maud` (HTML checked when the
//! crate compiles, every value escaped); one CSS and one small JavaScript file are
//! embedded in the binary, so `cargo build` alone builds it (docs/design.md says why).
//!
//! The portal is a client of the services, like `http::api`: it asks the same
//! service methods, which check access themselves, and asks [`Access::may`] only to
//! decide which controls to show. It never reads a store, and no service knows it.
//!
//! [`Access::may`]: crate::service::Access::may

mod assets;
mod error;
mod layout;
mod pages;
pub(crate) mod session;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

use crate::http::AppState;

pub use session::SESSION_COOKIE;

/// Sent with every portal response: no script or style but the portal's own files,
/// never inside a frame, no sniffing, no referrer sent to other sites.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The portal's routes. Paths the registry, the API and other login flows own
/// (`/v2`, `/api`, `/service`, `/c`) are not used.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route(
            "/projects",
            get(pages::projects::list).post(pages::projects::create),
        )
        .route("/projects/{project}", get(pages::project::repositories))
        .route(
            "/projects/{project}/robots",
            get(pages::project::robots).post(pages::project::create_robot),
        )
        .route(
            "/projects/{project}/settings",
            get(pages::settings::show).post(pages::settings::save),
        )
        .route(
            "/projects/{project}/allowlist",
            post(pages::settings::save_allowlist),
        )
        .route(
            "/projects/{project}/retention",
            get(pages::retention::show).post(pages::retention::run),
        )
        .route("/projects/{project}/logs", get(pages::project::logs))
        .route(
            "/projects/{project}/repos/{*rest}",
            get(pages::repository::show).post(pages::repository::act),
        )
        .route("/search", get(pages::search::show))
        // Project pages beyond the first set: members, webhooks, trust and tag rules.
        .route(
            "/projects/{project}/members",
            get(pages::members::show).post(pages::members::change),
        )
        .route(
            "/projects/{project}/webhooks",
            get(pages::webhooks::show).post(pages::webhooks::change),
        )
        .route(
            "/projects/{project}/webhooks/{id}",
            get(pages::webhooks::deliveries),
        )
        .route("/projects/{project}/trust", post(pages::trust::change))
        .route(
            "/projects/{project}/immutability",
            post(pages::trust::change_immutability),
        )
        .merge(admin_routes())
        .route("/static/{file}", get(assets::serve))
        .layer(axum::middleware::map_response(security_headers))
}

/// The administration pages (system administrators only; pages/admin).
fn admin_routes() -> Router<AppState> {
    use pages::admin;
    Router::new()
        .route("/admin", get(admin::index))
        .route(
            "/admin/users",
            get(admin::users::list).post(admin::users::create),
        )
        .route("/admin/users/{id}", post(admin::users::act))
        .route(
            "/admin/registries",
            get(admin::registries::list).post(admin::registries::create),
        )
        .route("/admin/registries/{id}", post(admin::registries::act))
        .route(
            "/admin/replication",
            get(admin::replication::list).post(admin::replication::create),
        )
        .route(
            "/admin/replication/{id}",
            get(admin::replication::show).post(admin::replication::act),
        )
        .route(
            "/admin/replication/executions/{id}",
            get(admin::replication::execution).post(admin::replication::stop),
        )
        .route(
            "/admin/replication/executions/{id}/tasks/{task}",
            get(admin::replication::task_log),
        )
        .route("/admin/gc", get(admin::gc::show).post(admin::gc::act))
        .route("/admin/gc/{id}", get(admin::gc::log))
        .route(
            "/admin/vulndb",
            get(admin::vulndb::show).post(admin::vulndb::act),
        )
        .route(
            "/admin/allowlist",
            get(admin::allowlist::show).post(admin::allowlist::save),
        )
        .route("/admin/audit", get(admin::audit::show))
        .route(
            "/admin/settings",
            get(admin::settings::show).post(admin::settings::save),
        )
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}
