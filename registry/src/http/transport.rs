//! The connection loop of `wharf serve`, in place of `axum::serve`, for the limits
//! `axum::serve` does not let a server set: how long a client may take to send its
//! request headers (and may sit idle between requests), how large those headers may
//! be, how many connections are served at once and how many one address may hold.
//!
//! Together they are the answer to slowloris: a client that opens many connections
//! and trickles headers byte by byte holds at most `max_connections_per_client` of
//! them, each for at most `header_read_timeout`, so other clients keep being served
//! and the server's descriptors and tasks stay bounded.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::Semaphore;
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

/// Streams one HTTP/2 connection may have open at once (hyper's default is 200).
const H2_MAX_STREAMS: u32 = 256;

fn builder(limits: &TransportLimits) -> Builder<TokioExecutor> {
    let mut b = Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size((limits.max_header_bytes * 2).max(HYPER_DEFAULT_BUF));
    // HTTP/2 has no header read timeout: a peer that stops answering pings is
    // dropped after one more interval, and one connection opens a bounded number
    // of streams.
    b.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(limits.header_read_timeout)
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
    let graceful = GracefulShutdown::new();
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
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(ClientAddr(peer)));
            app.clone().oneshot(req.map(Body::new))
        });
        let conn = builder
            .serve_connection(TokioIo::new(io), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop((permit, slot));
        });
    }
    graceful.shutdown().await;
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

    #[test]
    fn entries_go_with_their_last_connection() {
        let table = Arc::new(PerClient::default());
        let a: IpAddr = "::1".parse().unwrap();
        drop(table.claim(a, 1).unwrap());
        assert!(table.0.lock().unwrap().is_empty());
    }
}
