//! The page shell: head, navigation, the logout form, and small pieces every page
//! uses (sizes, times, the project's tabs).

use maud::{DOCTYPE, Markup, html};

use super::session::Viewer;

/// A page for a logged-in user.
pub fn page(viewer: &Viewer, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body data-csrf=(viewer.csrf) {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    nav aria-label="Main" {
                        a.brand href="/projects" { "Wharf" }
                        a href="/projects" { "Projects" }
                        a href="/search" { "Search" }
                        @if viewer.is_admin() { a href="/admin" { "Administration" } }
                    }
                    form.logout method="post" action="/logout" {
                        span.who { (viewer.who.name()) @if viewer.is_admin() { " (admin)" } }
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        button type="submit" { "Log out" }
                    }
                }
                main #main { (body) }
                script src="/static/portal.js" {}
            }
        }
    }
}

/// A page without a session (login, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top { nav aria-label="Main" { a.brand href="/" { "Wharf" } } }
                main #main { (body) }
            }
        }
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) " · Wharf" }
            link rel="stylesheet" href="/static/portal.css";
        }
    }
}

/// The tabs of a project's pages; `current` is the one shown.
pub fn project_tabs(project: &str, current: &str, tabs: &[(&str, &str)]) -> Markup {
    html! {
        nav.tabs aria-label="Project" {
            @for (slug, label) in tabs {
                @let href = if slug.is_empty() { format!("/projects/{project}") } else { format!("/projects/{project}/{slug}") };
                @if *slug == current {
                    a href=(href) aria-current="page" { (label) }
                } @else {
                    a href=(href) { (label) }
                }
            }
        }
    }
}

/// Bytes as people read them (binary units, as `docker` and Harbor show them).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Unix seconds as UTC, to the minute.
pub fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(super::size(0), "0 B");
        assert_eq!(super::size(1023), "1023 B");
        assert_eq!(super::size(1536), "1.5 KiB");
        assert_eq!(super::size(5 * 1024 * 1024), "5.0 MiB");
    }
}
