//! Who the client is when the registry sits behind a load balancer or reverse
//! proxy: the peer address is the proxy's, and the client's is in
//! `Forwarded` (RFC 7239) or `X-Forwarded-For`. Only proxies named in
//! `--trusted-proxies` are believed,
//! so a client cannot pick its own address (to dodge a rate limit, or to forge
//! the audit log) by sending the header itself.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use ipnet::IpNet;

use super::ClientAddr;

/// The address the request comes from: the peer's, or, when the peer is a
/// trusted proxy, the rightmost forwarded hop that is not itself a trusted proxy
/// (each proxy appends the address it received from; entries left of an
/// untrusted hop may be forged and are not read). The standard `Forwarded`
/// header is read when present, `X-Forwarded-For` otherwise: a proxy that
/// writes both writes the same hops, and one that writes only the old header
/// is still understood.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let lines = |name: &str| -> Vec<&str> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    let forwarded = lines("forwarded");
    let hops: Vec<Option<IpAddr>> = if forwarded.is_empty() {
        lines("x-forwarded-for")
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(parse_hop)
            .collect()
    } else {
        forwarded
            .into_iter()
            .flat_map(|v| v.split(','))
            .filter(|s| !s.trim().is_empty())
            .map(forwarded_for)
            .collect()
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) => {
                client = *ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            // A hop that is not an address (`unknown`, an obfuscated `_name`, a
            // missing `for=`): stop at the last one known.
            None => break,
        }
    }
    client
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:5000`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            // RFC 7239 writes IPv6 in brackets, with or without a port.
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<IpAddr>().ok())
        })
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.60;proto=https;by=…`;
/// parameter names are case-insensitive, values may be quoted).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        parse_hop(value)
    })
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
        // RFC 7239: read instead of X-Forwarded-For when present, quoted IPv6
        // with a port, parameters in any case and order.
        let fwd = |values: &[&str]| {
            let mut h = xff(&["6.6.6.6"]);
            for v in values {
                h.append("forwarded", v.parse().unwrap());
            }
            h
        };
        assert_eq!(
            resolve(ip("10.0.0.2"), &fwd(&["for=203.0.113.9;proto=https"]), &lb),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                &fwd(&["for=6.6.6.6, proto=http;For=\"[2001:db8:cafe::17]:4711\""]),
                &lb
            ),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                &fwd(&["for=198.51.100.1", "for=\"10.1.1.1:80\";by=10.0.0.2"]),
                &lb
            ),
            ip("198.51.100.1")
        );
        // An obfuscated or unknown hop stops the walk; an element without
        // `for=` is not an address either.
        assert_eq!(
            resolve(ip("10.0.0.2"), &fwd(&["for=_hidden"]), &lb),
            ip("10.0.0.2")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), &fwd(&["for=unknown"]), &lb),
            ip("10.0.0.2")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), &fwd(&["proto=https"]), &lb),
            ip("10.0.0.2")
        );
        // From an untrusted peer, Forwarded is ignored like X-Forwarded-For.
        assert_eq!(
            resolve(ip("203.0.113.5"), &fwd(&["for=1.2.3.4"]), &lb),
            ip("203.0.113.5")
        );
        assert!(
            parse_network("127.0.0.1")
                .unwrap()
                .contains(&ip("127.0.0.1"))
        );
        assert!(parse_network("10.0.0.0/33").is_err());
    }
}
