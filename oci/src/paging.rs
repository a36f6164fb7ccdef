//! Tag and catalog listings, page by page, as the distribution spec pages them: the
//! registry's `Link: <…>; rel="next"` header names the next page, and a registry
//! that sends none but fills a page is asked again with `last=` (the last name seen).
//! The `Link` URL is followed as given (a registry may page by an opaque cursor, not
//! by `last`), but only on the registry itself: credentials never go elsewhere.

use std::collections::HashSet;

use oci_client::{Reference, RegistryOperation};

use crate::client::Client;
use crate::{Error, Result};

/// Most pages one listing follows (a registry that pages forever stops here).
const MAX_PAGES: usize = 100_000;

/// The `rel="next"` target of a `Link` header value (RFC 8288), if any.
pub(crate) fn next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .any(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r == "next")
            })
            .then_some(target)
    })
}

impl Client {
    /// Every name of the listing at `path` (`/v2/<repo>/tags/list` or `/v2/_catalog`):
    /// the JSON field `field` of each page, pages of `page` names, at most `max`, each
    /// name once. `what` names the listing in errors.
    pub(crate) async fn list_all(
        &self,
        reference: &Reference,
        path: &str,
        field: &str,
        what: &'static str,
        page: usize,
        max: usize,
    ) -> Result<Vec<String>> {
        let auth = self.raw_auth(reference, RegistryOperation::Pull).await?;
        let http = self.raw_http()?;
        let mut url = self.same_registry_url(reference, &format!("{path}?n={page}"))?;
        let mut out: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let io = |e: reqwest::Error| Error::io(format!("GET {url}"), e);
            let response = auth.apply(http.get(&url)).send().await.map_err(io)?;
            let status = response.status().as_u16();
            if status == 404 {
                return Err(Error::NotFound {
                    what,
                    reference: reference.whole(),
                });
            }
            if !(200..300).contains(&status) {
                if status == 401 {
                    self.forget_tokens();
                }
                return Err(Error::Io {
                    what: format!("GET {url}"),
                    source: std::io::Error::other(format!("the registry answered {status}")),
                });
            }
            let link = response
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link)
                .map(str::to_string);
            let body = response.bytes().await.map_err(io)?;
            if body.len() as u64 > crate::client::MAX_SMALL_OBJECT {
                return Err(Error::TooLarge {
                    what: format!("a page of {url}"),
                    limit: crate::client::MAX_SMALL_OBJECT,
                });
            }
            let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|e| Error::Io {
                what: format!("GET {url}"),
                source: std::io::Error::other(format!("not a listing: {e}")),
            })?;
            let names: Vec<String> = doc
                .get(field)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let full = names.len() >= page;
            let before = out.len();
            for name in names {
                if seen.insert(name.clone()) {
                    out.push(name);
                }
            }
            if out.len() >= max {
                out.truncate(max);
                return Ok(out);
            }
            // A registry that ignores `last` (or repeats a cursor) would repeat itself.
            if out.len() == before {
                return Ok(out);
            }
            url = match (link, out.last()) {
                (Some(next), _) => self.same_registry_url(reference, &next)?,
                (None, Some(last)) if full => {
                    let mut u = reqwest::Url::parse(&self.same_registry_url(reference, path)?)
                        .map_err(|e| Error::io(path.to_string(), e))?;
                    u.query_pairs_mut()
                        .append_pair("n", &page.to_string())
                        .append_pair("last", last);
                    u.to_string()
                }
                _ => return Ok(out),
            };
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn finds_the_next_link() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://r/a?p=1>; rel="prev", <https://r/a?p=3>; rel=next"#),
            Some("https://r/a?p=3")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
