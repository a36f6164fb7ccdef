//! `/login` and `/logout`.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;

use crate::http::AppState;
use crate::portal::error::{PageError, PageResult};
use crate::portal::layout;
use crate::portal::session::{Checked, ClientIp, new_session_cookie, same_origin, session_cookie};

fn login_page(error: Option<&str>, username: &str, oidc: bool) -> Markup {
    layout::bare(
        "Log in",
        html! {
            section.login {
                h1 { "Log in to Wharf" }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form method="post" action="/login" {
                    label for="username" { "User name" }
                    input #username name="username" autocomplete="username" required value=(username);
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                    button type="submit" { "Log in" }
                }
                @if oidc {
                    p { a.button href="/c/oidc/login" { "Log in with your identity provider" } }
                    p.hint { "Local accounts (admin) log in with the form." }
                }
                p.hint { "Robot accounts log in with docker, the API or the CLI, not here." }
            }
        },
    )
}

/// Whether users log in through an OpenID provider (the form stays for `admin`).
fn oidc(reg: &AppState) -> bool {
    reg.access.external_mode() == Some("oidc_auth")
}

pub async fn form(State(reg): State<AppState>) -> Html<String> {
    Html(login_page(None, "", oidc(&reg)).into_string())
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

pub async fn submit(
    State(reg): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Form(f): Form<LoginForm>,
) -> PageResult {
    // No session yet, so no CSRF token: a login from another site's page is refused
    // by its Origin instead (login CSRF).
    if !same_origin(&headers) {
        return Err(PageError(crate::error::RegistryError::forbidden(
            "login from another site refused",
        )));
    }
    match reg
        .sessions
        .login(&f.username, &f.password, ip.as_deref())
        .await
    {
        Ok(s) => {
            let mut resp = Redirect::to("/projects").into_response();
            resp.headers_mut()
                .insert(header::SET_COOKIE, new_session_cookie(&reg, &s.id));
            Ok(resp)
        }
        Err(e) => {
            let status = crate::http::error::status(&e);
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                let msg = if status == StatusCode::UNAUTHORIZED {
                    "Wrong user name or password.".to_string()
                } else {
                    e.to_string()
                };
                let body = login_page(Some(&msg), &f.username, oidc(&reg)).into_string();
                Ok((status, Html(body)).into_response())
            } else {
                Err(e.into())
            }
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(State(reg): State<AppState>, c: Checked<Empty>) -> PageResult {
    let v = c.viewer;
    reg.sessions
        .logout(&v.session_id, &v.who, v.ip.as_deref())
        .await?;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", reg.access.tls(), 0)
            .parse()
            .expect("cookie is a header value"),
    );
    Ok(resp)
}
