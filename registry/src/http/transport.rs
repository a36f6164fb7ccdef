//! The connection loop of `wharf serve`, in place of `axum::serve`, for the limits
//! `axum::serve` does not let a server set: how long a client may take to send its
//! request headers (and may sit idle between requests), how large those headers may
//! be, how many connections are served at once and how many one address may hold.
//!
//! Together they are the answer to slowloris: a client that opens many connections
//! and trickles headers byte by byte holds at most `max_connections_per_client` of
//! them, each for at most `header_read_timeout`, so other clients keep being served
//! and the server's descriptors and tasks stay bounded.
//!
//! HTTP/2 has no header read timeout: a connection that keeps answering pings but
//! sends no request would be held for ever. Each connection's open requests are
//! counted ([`Activity`]), and one that has had none for `header_read_timeout` is
//! closed gracefully (a GOAWAY on HTTP/2), the same rule hyper applies to an idle
//! HTTP/1 keep-alive connection.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::ClientAddr;

/// hyper's own read buffer (its default): the hard bound on one connection's request
/// head. `max_header_bytes` below it is checked with a proper error body
/// (`http::limits`); a head past this buffer gets hyper's bare 431.
const HYPER_DEFAULT_BUF: usize = 8192 + 4096 * 100;

/// What the connection loop enforces.
#[derive(Debug, Clone)]
pub struct TransportLimits {
    pub max_header_bytes: usize,
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// Where refused connections are counted (`Metrics::http_refusals`).
    pub refusals: Option<
        prometheus_client::metrics::family::Family<
            crate::service::metrics::ReasonLabel,
            prometheus_client::metrics::counter::Counter,
        >,
    >,
}

/// Connections held per client address; a slot is given back when its guard drops.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

struct Slot {
    table: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    fn claim(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let held = map.entry(ip).or_default();
        if *held >= max {
            return None;
        }
        *held += 1;
        Some(Slot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = map.get_mut(&self.ip) {
            *held -= 1;
            if *held == 0 {
                // No entry outlives its last connection: the table is bounded by live ones.
                map.remove(&self.ip);
            }
        }
    }
}

/// One connection's requests that have not finished (their response bodies
/// included: a long blob download is not idleness), and when the last one ended.
struct Activity {
    open: AtomicUsize,
    last_end: Mutex<Instant>,
}

/// Held by a request from its head to the end of its response body.
struct InFlight(Arc<Activity>);

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Activity {
            open: AtomicUsize::new(0),
            last_end: Mutex::new(Instant::now()),
        })
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.open.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Resolves once the connection has had no open request for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let since = *self.last_end.lock().unwrap_or_else(|p| p.into_inner());
            let wait = if self.open.load(Ordering::SeqCst) > 0 {
                timeout
            } else {
                let idle = since.elapsed();
                if idle >= timeout {
                    return;
                }
                timeout - idle
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last_end.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted as open until it is sent whole
/// (or dropped).
struct Tracked {
    inner: Body,
    _request: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Streams one HTTP/2 connection may have open at once (hyper's default is 200).
const H2_MAX_STREAMS: u32 = 256;

fn builder(limits: &TransportLimits) -> Builder<TokioExecutor> {
    let mut b = Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size((limits.max_header_bytes * 2).max(HYPER_DEFAULT_BUF));
    // HTTP/2 has no header read timeout: the server pings after half of it without
    // a frame and drops a peer that does not answer within the other half; one that
    // answers but sends no request is closed by the idle rule in `serve`. One
    // connection opens a bounded number of streams.
    let half = limits.header_read_timeout / 2;
    b.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(half))
        .keep_alive_timeout(half)
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    b
}

/// Serve `app` on `listener` until `shutdown` resolves, then let open connections
/// finish their requests.
pub async fn serve<S>(
    mut listener: wharf_net::Listener,
    app: S,
    limits: TransportLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let total = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(PerClient::default());
    let builder = builder(&limits);
    let idle_timeout = limits.header_read_timeout;
    // Connections are told to finish through `stopping`; `tracker` waits for them.
    let (stop, stopping) = watch::channel(());
    let tracker = TaskTracker::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // At the global cap, stop accepting: new connections wait in the kernel's queue.
        let permit = tokio::select! {
            p = total.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (io, peer): (_, SocketAddr) = tokio::select! {
            c = axum::serve::Listener::accept(&mut listener) => c,
            () = &mut shutdown => break,
        };
        let Some(slot) = per_client.claim(peer.ip(), limits.max_connections_per_client) else {
            tracing::debug!(%peer, "connection refused: this address holds its maximum of connections");
            if let Some(refusals) = &limits.refusals {
                crate::service::metrics::Metrics::refusal(refusals, "too_many_connections");
            }
            continue;
        };
        let app = app.clone();
        let activity = Activity::new();
        let requests = activity.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(ClientAddr(peer)));
            let request = requests.begin();
            let response = app.clone().oneshot(req.map(Body::new));
            async move {
                let response = response.await?;
                Ok::<_, Infallible>(response.map(|inner| {
                    Body::new(Tracked {
                        inner,
                        _request: request,
                    })
                }))
            }
        });
        let conn = builder
            .serve_connection(TokioIo::new(io), service)
            .into_owned();
        let mut stopping = stopping.clone();
        tracker.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let mut closing = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stopping.changed(), if !closing => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    () = activity.idle_for(idle_timeout), if !closing => {
                        tracing::debug!(%peer, "closing a connection idle for {idle_timeout:?}");
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop((permit, slot));
        });
    }
    // Open connections finish the requests they have, then close.
    let _ = stop.send(());
    tracker.close();
    tracker.wait().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_slots_are_counted_and_given_back() {
        let table = Arc::new(PerClient::default());
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let first = table.claim(a, 2).unwrap();
        let _second = table.claim(a, 2).unwrap();
        assert!(table.claim(a, 2).is_none(), "a third connection from a");
        assert!(table.claim(b, 2).is_some(), "b has its own slots");
        drop(first);
        assert!(table.claim(a, 2).is_some(), "a slot came back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_with_no_request_open() {
        let timeout = Duration::from_secs(30);
        let activity = Activity::new();
        let request = activity.begin();
        // A request (or its response body) still open: never idle, however long.
        let idle = tokio::time::timeout(Duration::from_secs(300), activity.idle_for(timeout));
        assert!(idle.await.is_err(), "idle while a request was open");
        let ended = Instant::now();
        drop(request);
        activity.idle_for(timeout).await;
        assert!(
            ended.elapsed() >= timeout,
            "idle before the timeout ran out"
        );
        assert!(ended.elapsed() < timeout * 2);
    }

    #[test]
    fn entries_go_with_their_last_connection() {
        let table = Arc::new(PerClient::default());
        let a: IpAddr = "::1".parse().unwrap();
        drop(table.claim(a, 1).unwrap());
        assert!(table.0.lock().unwrap().is_empty());
    }
}
