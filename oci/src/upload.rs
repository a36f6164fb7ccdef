//! Resumable chunked blob uploads (the distribution spec's "chunked upload"): a
//! session is opened with a POST, the blob is sent as `PATCH`es with
//! `Content-Range`, each answered with the session's next URL, and closed with a
//! `PUT ?digest=`. A copy cut short (the registry restarted, the connection dropped)
//! keeps the session's URL; asking it with a GET tells, in its `Range` header, how many
//! bytes the registry holds, and the copy continues from there instead of byte 0.
//!
//! A cross-repository mount (`POST …/blobs/uploads/?mount=<digest>&from=<repo>`) is
//! the same request with two more parameters: a registry that does not mount answers
//! it by opening a session, which [`Mount::Declined`] hands to the caller to upload
//! the blob into, so no session is left behind.
//!
//! oci-client's own chunked upload keeps its session to itself, so these requests
//! are made here, with the same credentials ([`Client::raw_auth`]).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use oci_client::{Reference, RegistryOperation};
use tokio::sync::Mutex;

use crate::client::{BlobStream, Client, RawAuth};
use crate::token::repository_scope;
use crate::{Error, Result};

/// Bytes per PATCH: the unit of a resumed upload (a cut PATCH is worth what the
/// registry kept of it, at least everything before it).
pub const UPLOAD_CHUNK: usize = 8 * 1024 * 1024;

/// An open upload session: where to send the next request, and the bytes it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    /// The absolute URL the registry named last (`Location`).
    pub location: String,
    /// Bytes the session holds.
    pub offset: u64,
}

/// How a cross-repository mount ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// The registry linked the blob into the repository (201).
    Mounted,
    /// The registry chose not to (the source does not hold the blob, or the caller
    /// may not read it there) and opened an upload session instead (202): upload the
    /// blob into it with [`Client::upload_from`], or [`Client::cancel_upload`] it.
    Declined(UploadSession),
}

/// The error of a request the registry refused with `status`. A 401 also drops the
/// tokens kept for the registry (revoked, or signed with a key the registry has since
/// replaced), so the next attempt asks for fresh ones.
fn failed_on(client: &Client, what: String, status: u16, body: &str) -> Error {
    if status == 401 {
        client.forget_tokens();
    }
    failed(what, status, body)
}

fn failed(what: String, status: u16, body: &str) -> Error {
    let body: String = body.chars().take(300).collect();
    Error::Io {
        what,
        source: std::io::Error::other(format!("the registry answered {status}: {body}")),
    }
}

impl Client {
    /// Opens an upload session in `repo`.
    pub async fn open_upload(&self, repo: &Reference) -> Result<UploadSession> {
        let auth = self.raw_auth(repo, RegistryOperation::Push).await?;
        self.open_upload_with(repo, &auth).await
    }

    async fn open_upload_with(&self, repo: &Reference, auth: &RawAuth) -> Result<UploadSession> {
        let url =
            self.same_registry_url(repo, &format!("/v2/{}/blobs/uploads/", repo.repository()))?;
        let what = format!("POST {url}");
        let response = auth
            .apply(self.raw_http()?.post(&url))
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await
            .map_err(|e| Error::io(what.clone(), e))?;
        let status = response.status().as_u16();
        if status != 202 {
            let body = response.text().await.unwrap_or_default();
            return Err(failed_on(self, what, status, &body));
        }
        Ok(UploadSession {
            location: self.location(repo, &response, &what)?,
            offset: 0,
        })
    }

    /// Links the blob `digest` that `from` (another repository of the same registry)
    /// holds into `repo` without sending it. The request carries one token for both
    /// repositories (push and pull on `repo`, pull on `from`): a registry with token
    /// authentication checks that the caller may read the source, and declines the
    /// mount when the token does not say so.
    pub async fn mount_blob(
        &self,
        repo: &Reference,
        from: &Reference,
        digest: &str,
    ) -> Result<Mount> {
        if from.resolve_registry() != repo.resolve_registry() {
            return Err(Error::BadReference(
                from.whole(),
                format!("a mount source must be on {}", repo.resolve_registry()),
            ));
        }
        let scopes = [
            repository_scope(repo, "pull,push"),
            repository_scope(from, "pull"),
        ];
        let auth = self.scoped_auth(repo, &scopes).await?;
        let mut url = reqwest::Url::parse(
            &self.same_registry_url(repo, &format!("/v2/{}/blobs/uploads/", repo.repository()))?,
        )
        .map_err(|e| Error::io(format!("the upload URL of {}", repo.whole()), e))?;
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from.repository());
        let what = format!("POST {url}");
        let response = auth
            .apply(self.raw_http()?.post(url.as_str()))
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await
            .map_err(|e| Error::io(what.clone(), e))?;
        match response.status().as_u16() {
            201 => Ok(Mount::Mounted),
            202 => Ok(Mount::Declined(UploadSession {
                location: self.location(repo, &response, &what)?,
                offset: 0,
            })),
            status => {
                let body = response.text().await.unwrap_or_default();
                Err(failed_on(self, what, status, &body))
            }
        }
    }

    /// Cancels an upload session (a DELETE of its URL): the registry drops what it
    /// holds. A session the registry no longer knows is not an error.
    pub async fn cancel_upload(&self, repo: &Reference, session: &UploadSession) -> Result<()> {
        let url = self.same_registry_url(repo, &session.location)?;
        let auth = self.raw_auth(repo, RegistryOperation::Push).await?;
        let what = format!("DELETE {url}");
        let response = auth
            .apply(self.raw_http()?.delete(&url))
            .send()
            .await
            .map_err(|e| Error::io(what.clone(), e))?;
        match response.status().as_u16() {
            200..=299 | 404 => Ok(()),
            status => {
                let body = response.text().await.unwrap_or_default();
                Err(failed_on(self, what, status, &body))
            }
        }
    }

    /// How many bytes the session at `location` holds (a GET; its `Range: 0-<last>`),
    /// with the URL to continue at; `None` when the registry no longer knows it
    /// (expired, cancelled, or lost with the registry's state).
    pub async fn upload_status(
        &self,
        repo: &Reference,
        location: &str,
    ) -> Result<Option<UploadSession>> {
        let url = self.same_registry_url(repo, location)?;
        let auth = self.raw_auth(repo, RegistryOperation::Push).await?;
        let what = format!("GET {url}");
        let response = auth
            .apply(self.raw_http()?.get(&url))
            .send()
            .await
            .map_err(|e| Error::io(what.clone(), e))?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            let body = response.text().await.unwrap_or_default();
            return Err(failed_on(self, what, status, &body));
        }
        let offset = response
            .headers()
            .get(reqwest::header::RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(range_end)
            .map_or(0, |end| end + 1);
        let location = match response.headers().get(reqwest::header::LOCATION) {
            Some(_) => self.location(repo, &response, &what)?,
            None => url,
        };
        Ok(Some(UploadSession { location, offset }))
    }

    /// Sends `stream` (the blob's `size` bytes from `session.offset` on) as PATCHes of
    /// at most [`UPLOAD_CHUNK`] bytes, each streamed (nothing is held whole), and closes
    /// the session with `digest`. `on_progress` hears the session after every PATCH, so
    /// a caller whose upload failed knows where to resume.
    pub async fn upload_from(
        &self,
        repo: &Reference,
        session: &mut UploadSession,
        stream: BlobStream,
        size: u64,
        digest: &str,
        on_progress: &(dyn Fn(&UploadSession) + Send + Sync),
    ) -> Result<()> {
        let auth = self.raw_auth(repo, RegistryOperation::Push).await?;
        let source = Arc::new(Mutex::new(Source {
            stream,
            pending: None,
        }));
        while session.offset < size {
            let len = (size - session.offset).min(UPLOAD_CHUNK as u64);
            self.patch(repo, &auth, session, source.clone(), len)
                .await?;
            on_progress(session);
        }
        // The source must hold no more than `size` bytes.
        let extra = {
            let mut s = source.lock().await;
            match s.pending.take() {
                Some(b) if !b.is_empty() => true,
                _ => s
                    .stream
                    .next()
                    .await
                    .is_some_and(|c| c.map_or(true, |c| !c.is_empty())),
            }
        };
        if extra {
            return Err(Error::Io {
                what: format!("uploading blob {digest}"),
                source: std::io::Error::other(format!("its source holds more than {size} bytes")),
            });
        }
        self.close_upload(repo, &auth, session, digest).await
    }

    async fn patch(
        &self,
        repo: &Reference,
        auth: &RawAuth,
        session: &mut UploadSession,
        source: Arc<Mutex<Source>>,
        len: u64,
    ) -> Result<()> {
        let url = self.same_registry_url(repo, &session.location)?;
        let what = format!("PATCH {url}");
        let start = session.offset;
        let body = reqwest::Body::wrap_stream(take(source, len));
        let response = auth
            .apply(self.raw_http()?.patch(&url))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, len.to_string())
            .header(
                reqwest::header::CONTENT_RANGE,
                format!("{start}-{}", start + len - 1),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| Error::io(what.clone(), e))?;
        let status = response.status().as_u16();
        if status != 202 {
            let body = response.text().await.unwrap_or_default();
            return Err(failed_on(self, what, status, &body));
        }
        session.location = self.location(repo, &response, &what)?;
        session.offset = start + len;
        Ok(())
    }

    async fn close_upload(
        &self,
        repo: &Reference,
        auth: &RawAuth,
        session: &UploadSession,
        digest: &str,
    ) -> Result<()> {
        let mut url = reqwest::Url::parse(&self.same_registry_url(repo, &session.location)?)
            .map_err(|e| Error::io(session.location.clone(), e))?;
        url.query_pairs_mut().append_pair("digest", digest);
        let what = format!("PUT {url}");
        let response = auth
            .apply(self.raw_http()?.put(url.as_str()))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await
            .map_err(|e| Error::io(what.clone(), e))?;
        let status = response.status().as_u16();
        if status != 201 {
            let body = response.text().await.unwrap_or_default();
            return Err(failed_on(self, what, status, &body));
        }
        Ok(())
    }

    /// The absolute URL of a response's `Location`.
    fn location(
        &self,
        repo: &Reference,
        response: &reqwest::Response,
        what: &str,
    ) -> Result<String> {
        let value = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Io {
                what: what.to_string(),
                source: std::io::Error::other("the registry sent no Location"),
            })?;
        self.same_registry_url(repo, value)
    }
}

/// The blob's bytes, shared by the PATCHes that send them in turn; `pending` is the
/// rest of a read that crossed a PATCH's end.
struct Source {
    stream: BlobStream,
    pending: Option<Bytes>,
}

/// The next `len` bytes of `source`, as one PATCH's body; an error when it ends first.
fn take(
    source: Arc<Mutex<Source>>,
    len: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold((source, len), |(source, left)| async move {
        if left == 0 {
            return None;
        }
        let mut s = source.lock().await;
        let mut chunk = match s.pending.take() {
            Some(b) => b,
            None => match s.stream.next().await {
                Some(Ok(b)) => b,
                Some(Err(e)) => {
                    drop(s);
                    return Some((Err(e), (source, 0)));
                }
                None => {
                    drop(s);
                    let short = std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("the blob ended {left} bytes early"),
                    );
                    return Some((Err(short), (source, 0)));
                }
            },
        };
        if chunk.len() as u64 > left {
            s.pending = Some(chunk.split_off(left as usize));
        }
        drop(s);
        let left = left - chunk.len() as u64;
        Some((Ok(chunk), (source, left)))
    })
}

/// The last byte of a `Range: 0-<last>` upload status. `0-0` is ambiguous in the spec
/// (nothing, or one byte): read as nothing, the safe side (a resume from 0 redoes one
/// byte at most; the registry refuses a chunk that does not start where it ends).
fn range_end(value: &str) -> Option<u64> {
    let (start, end) = value.trim().trim_start_matches("bytes=").split_once('-')?;
    let (start, end): (u64, u64) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    (start == 0 && end > 0).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::range_end;

    #[test]
    fn reads_the_upload_range() {
        assert_eq!(range_end("0-1023"), Some(1023));
        assert_eq!(range_end("bytes=0-9"), Some(9));
        assert_eq!(range_end("0-0"), None);
        assert_eq!(range_end("5-9"), None);
        assert_eq!(range_end("x"), None);
    }
}
