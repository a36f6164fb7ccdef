//! Errors as pages: the status comes from the one mapping (`http::error::status`),
//! the message from the error itself. Not being logged in sends the browser to the
//! login page instead.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;

use crate::error::RegistryError;

pub struct PageError(pub RegistryError);

impl From<RegistryError> for PageError {
    fn from(e: RegistryError) -> Self {
        PageError(e)
    }
}

pub type PageResult<T = Response> = std::result::Result<T, PageError>;

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = crate::http::error::status(&self.0);
        if status == StatusCode::UNAUTHORIZED {
            return Redirect::to("/login").into_response();
        }
        let body = super::layout::bare(
            "Error",
            html! {
                h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("Error")) }
                p.error role="alert" { (self.0.to_string()) }
                p { a href="/projects" { "Back to the projects" } }
            },
        );
        let mut resp = (status, Html(body.into_string())).into_response();
        if let RegistryError::RateLimited { retry_after, .. } = &self.0
            && let Ok(v) = retry_after.to_string().parse()
        {
            resp.headers_mut().insert("Retry-After", v);
        }
        resp
    }
}
