//! Small helpers with no better home: random secrets, URL encoding.

use argon2::password_hash::rand_core::{OsRng, RngCore};

pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// An unguessable URL-safe token (hex of `bytes` random bytes).
pub fn random_token(bytes: usize) -> String {
    hex::encode(random_bytes(bytes))
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Percent-encodes a value for a URL query.
pub fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
