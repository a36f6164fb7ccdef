//! Who the client is when the registry sits behind a load balancer or reverse
//! proxy: the peer address is the proxy's, and the client's is in
//! `X-Forwarded-For`. Only proxies named in `--trusted-proxies` are believed,
//! so a client cannot pick its own address (to dodge a rate limit, or to forge
//! the audit log) by sending the header itself.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use ipnet::IpNet;

use super::ClientAddr;

/// The address the request comes from: the peer's, or, when the peer is a
/// trusted proxy, the rightmost `X-Forwarded-For` hop that is not itself a
/// trusted proxy (each proxy appends the address it received from; entries
/// left of an untrusted hop may be forged and are not read).
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A hop that is not an address: stop at the last one known.
            None => break,
        }
    }
    client
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:5000`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// Replace the connection's peer address in the request with the client's, so
/// rate limits, login throttling, upload caps and the audit log all see it.
pub fn rewrite(extensions: &mut axum::http::Extensions, headers: &HeaderMap, trusted: &[IpNet]) {
    if trusted.is_empty() {
        return;
    }
    if let Some(ConnectInfo(ClientAddr(addr))) =
        extensions.get::<ConnectInfo<ClientAddr>>().copied()
    {
        let ip = resolve(addr.ip(), headers, trusted);
        if ip != addr.ip() {
            extensions.insert(ConnectInfo(ClientAddr(SocketAddr::new(ip, 0))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_network;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| parse_network(n).unwrap()).collect()
    }

    #[test]
    fn only_trusted_proxies_are_believed() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let lb = nets(&["10.0.0.0/8"]);
        // A direct client's header is ignored.
        assert_eq!(
            resolve(ip("203.0.113.9"), &xff(&["1.2.3.4"]), &lb),
            ip("203.0.113.9")
        );
        // Through the trusted balancer: the hop it received from.
        assert_eq!(
            resolve(ip("10.0.0.2"), &xff(&["203.0.113.9"]), &lb),
            ip("203.0.113.9")
        );
        // A forged entry left of the real client is not read.
        assert_eq!(
            resolve(ip("10.0.0.2"), &xff(&["6.6.6.6, 203.0.113.9"]), &lb),
            ip("203.0.113.9")
        );
        // Two trusted proxies in a row, over two header lines.
        assert_eq!(
            resolve(ip("10.0.0.2"), &xff(&["198.51.100.1", "10.1.1.1"]), &lb),
            ip("198.51.100.1")
        );
        // Garbage stops the walk at the last address known.
        assert_eq!(
            resolve(ip("10.0.0.2"), &xff(&["unknown"]), &lb),
            ip("10.0.0.2")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), &xff(&["[2001:db8::7]:443"]), &lb),
            ip("2001:db8::7")
        );
        // No header from a trusted proxy: the proxy itself.
        assert_eq!(
            resolve(ip("10.0.0.2"), &HeaderMap::new(), &lb),
            ip("10.0.0.2")
        );
        assert!(
            parse_network("127.0.0.1")
                .unwrap()
                .contains(&ip("127.0.0.1"))
        );
        assert!(parse_network("10.0.0.0/33").is_err());
    }
}
