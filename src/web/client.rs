//! The client's address, for sign-in throttling and the audit log: the peer of the
//! connection, unless that peer is one of `TRUSTED_PROXIES` — then the address the proxies
//! say they received the request from (`Forwarded`, RFC 7239, or else `X-Forwarded-For`).
//!
//! The chain is read from the right: each trusted proxy appends the address it was reached
//! from, so the first address from the right that is not a trusted proxy is the client as
//! far as anyone we trust can tell. Whatever a client wrote further left is its own claim
//! and is never believed; from an untrusted peer the headers are ignored altogether.

use std::future::{Ready, ready};
use std::net::{IpAddr, SocketAddr};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use ipnet::IpNet;

use super::AppState;

/// Where the request came from, as text (`203.0.113.7`, `2001:db8::1`); empty when the
/// connection has no peer address (a test harness's in-process request).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl FromRequest for ClientAddr {
    type Error = actix_web::Error;
    type Future = Ready<Result<ClientAddr, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientAddr::of(req)))
    }
}

impl ClientAddr {
    pub fn of(req: &HttpRequest) -> ClientAddr {
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.config.trusted_proxies.as_slice())
            .unwrap_or_default();
        let addr = req.peer_addr().map(|peer| {
            let header = |name: &str| {
                req.headers()
                    .get_all(name)
                    .filter_map(|v| v.to_str().ok())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            client_of(
                peer.ip(),
                trusted,
                &header("forwarded"),
                &header("x-forwarded-for"),
            )
        });
        ClientAddr(addr.map(|a| a.to_string()).unwrap_or_default())
    }
}

/// The client behind `peer`, given the `Forwarded` and `X-Forwarded-For` headers (each
/// the comma-joined values of all its lines; empty when absent).
pub fn client_of(
    peer: IpAddr,
    trusted: &[IpNet],
    forwarded: &str,
    x_forwarded_for: &str,
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let chain: Vec<Option<IpAddr>> = if !forwarded.trim().is_empty() {
        forwarded.split(',').map(forwarded_for).collect()
    } else {
        x_forwarded_for
            .split(',')
            .filter(|hop| !hop.trim().is_empty())
            .map(|hop| parse_node(hop.trim()))
            .collect()
    };
    let mut client = peer;
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => client = *ip,
            Some(ip) => return *ip,
            // An obfuscated or malformed hop: nothing left of it can be believed.
            None => return client,
        }
    }
    client
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.60;proto=https;by=…`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(value.trim().trim_matches('"')))
            .flatten()
    })
}

/// `192.0.2.60`, `192.0.2.60:4711`, `[2001:db8::17]:4711` or `2001:db8::17`.
fn parse_node(node: &str) -> Option<IpAddr> {
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = node.strip_prefix('[')?.split(']').next()?;
            inner.parse::<IpAddr>().ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let client = client_of(ip("198.51.100.2"), &[], "for=1.2.3.4", "1.2.3.4");
        assert_eq!(client, ip("198.51.100.2"));
        let trusted = nets(&["10.0.0.0/8"]);
        let client = client_of(ip("198.51.100.2"), &trusted, "", "1.2.3.4");
        assert_eq!(client, ip("198.51.100.2"));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "192.168.7.1/32"]);
        // The client wrote 6.6.6.6 itself; 203.0.113.7 is what our proxy saw.
        let xff = "6.6.6.6, 203.0.113.7, 10.1.2.3";
        assert_eq!(
            client_of(ip("192.168.7.1"), &trusted, "", xff),
            ip("203.0.113.7")
        );
        let forwarded = r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.1.2.3"#;
        assert_eq!(
            client_of(ip("10.0.0.1"), &trusted, forwarded, "9.9.9.9"),
            ip("2001:db8:cafe::17"),
            "Forwarded wins over X-Forwarded-For"
        );
        assert_eq!(client_of(ip("10.0.0.1"), &trusted, "", ""), ip("10.0.0.1"));
        assert_eq!(
            client_of(ip("10.0.0.1"), &trusted, "for=_hidden, for=10.0.0.9", ""),
            ip("10.0.0.9"),
            "an obfuscated hop stops the walk at the last trusted one"
        );
        assert_eq!(
            client_of(ip("10.0.0.1"), &trusted, "", "junk"),
            ip("10.0.0.1")
        );
    }
}
