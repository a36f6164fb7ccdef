//! What a client sends the registry to authenticate: the `Authorization` header
//! (Basic and Bearer, `wharf_registry::http::auth::credentials`), the bearer token itself
//! (`TokenKey::verify`, both as sent and re-signed with the server's key so the claims
//! parser is reached behind the MAC), and `scope=` parameters of token requests.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{KeyInit, Mac};
use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use wharf_registry::auth::token::{TokenKey, parse_scope};
use wharf_registry::http::{Credentials, credentials};

const SECRET: &[u8] = b"fuzz-token-secret";
const NOW: i64 = 1_750_000_000;

fuzz_target!(|data: &[u8]| {
    // The header as the HTTP layer hands it over.
    if let Ok(v) = HeaderValue::from_bytes(data) {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, v);
        match credentials(&h) {
            Credentials::Basic(u, _) => assert!(!u.contains(':')),
            Credentials::Bearer(t) => assert_eq!(t, t.trim()),
            Credentials::None => {}
        }
    }
    let key = TokenKey::new(SECRET.to_vec());
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = key.verify(text, NOW);
    let _ = parse_scope(text);
    // The claims as the fuzzer wrote them, under a valid signature.
    let signing_input = format!(
        "{}.{}",
        B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        B64.encode(data)
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(signing_input.as_bytes());
    let token = format!(
        "{signing_input}.{}",
        B64.encode(mac.finalize().into_bytes())
    );
    if let Ok(claims) = key.verify(&token, NOW) {
        assert!(claims.nbf <= NOW && NOW < claims.exp);
        let again = key.sign(&claims);
        assert_eq!(key.verify(&again, NOW).as_ref(), Ok(&claims));
    }
});
