//! The administration pages (`/admin/...`), for system administrators. Each page
//! first asks [`Access::require_system`] for the system action it shows (the one
//! permission table decides; others get the 403 page), then the services, which
//! check again. Nothing here reads a store.
//!
//! [`Access::require_system`]: crate::service::Access::require_system

pub mod allowlist;
pub mod audit;
pub mod gc;
pub mod registries;
pub mod replication;
pub mod settings;
pub mod users;
pub mod vulndb;

use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};

use crate::auth::rbac::SystemAction;
use crate::http::AppState;
use crate::portal::error::PageResult;
use crate::portal::layout;
use crate::portal::session::Viewer;

/// The administration tabs: path under `/admin/` and label.
const TABS: &[(&str, &str)] = &[
    ("users", "Users"),
    ("registries", "Registries"),
    ("replication", "Replication"),
    ("gc", "Garbage collection"),
    ("vulndb", "Vulnerability DB"),
    ("allowlist", "CVE allow-list"),
    ("audit", "Audit log"),
    ("settings", "Settings"),
];

/// Refuse (403 page) unless the viewer may do `action` system-wide.
pub fn require(reg: &AppState, viewer: &Viewer, action: SystemAction) -> PageResult<()> {
    reg.access.require_system(&viewer.who, action)?;
    Ok(())
}

/// An administration page: the shell, the tabs with `current` marked, the body.
pub fn page(viewer: &Viewer, title: &str, current: &str, body: Markup) -> Response {
    let body = html! {
        h1 { "Administration: " (title) }
        nav.tabs aria-label="Administration" {
            @for (slug, label) in TABS {
                @let href = format!("/admin/{slug}");
                @if *slug == current {
                    a href=(href) aria-current="page" { (label) }
                } @else {
                    a href=(href) { (label) }
                }
            }
        }
        (body)
    };
    Html(layout::page(viewer, &format!("Administration: {title}"), body).into_string())
        .into_response()
}

/// The hidden CSRF field every form carries.
pub fn csrf(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf); }
}

/// After a change: back to `to` (a page under `/admin`).
pub fn back(to: &str) -> PageResult {
    Ok(Redirect::to(to).into_response())
}

/// `/admin`: the first page.
pub async fn index(
    viewer: Viewer,
    axum::extract::State(reg): axum::extract::State<AppState>,
) -> PageResult {
    require(&reg, &viewer, SystemAction::ReadUsers)?;
    back("/admin/users")
}

/// A checkbox's value in a form: present means on.
pub fn checked(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty() && v != "false")
}

/// Unix seconds as the page shows them; `None` as a dash.
pub fn when(t: Option<i64>) -> String {
    t.map(layout::time).unwrap_or_else(|| "—".into())
}

/// Seconds as people read a duration.
pub fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// The pager of a list with `total` items, `size` to a page; `link(n)` is page n's URL.
pub fn pager(current: u32, total: i64, size: u32, link: impl Fn(u32) -> String) -> Markup {
    let pages = (total.max(0) as u32).div_ceil(size).max(1);
    html! {
        @if pages > 1 {
            nav.pager aria-label="Pages" {
                @if current > 1 { a href=(link(current - 1)) rel="prev" { "Previous" } " " }
                @for n in page_window(current, pages) {
                    @if n == current { span aria-current="page" { (n) } }
                    @else { a href=(link(n)) { (n) } }
                    " "
                }
                @if current < pages { a href=(link(current + 1)) rel="next" { "Next" } }
            }
        }
    }
}

/// At most 9 page numbers around the current one.
fn page_window(current: u32, pages: u32) -> std::ops::RangeInclusive<u32> {
    let end = (current.saturating_sub(4).max(1) + 8).min(pages);
    end.saturating_sub(8).max(1)..=end
}

/// A query-string value.
pub fn q(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn page_windows_stay_in_range() {
        assert_eq!(super::page_window(1, 3), 1..=3);
        assert_eq!(super::page_window(1, 20), 1..=9);
        assert_eq!(super::page_window(10, 20), 6..=14);
        assert_eq!(super::page_window(20, 20), 12..=20);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(super::duration(5), "5 s");
        assert_eq!(super::duration(125), "2 min 5 s");
        assert_eq!(super::duration(7260), "2 h 1 min");
    }
}
