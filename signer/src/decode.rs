//! The text encodings inside Sigstore JSON (trusted roots, bundles, Rekor entries):
//! base64 fields and RFC 3339 times, decoded with the field's name in the error so a
//! malformed document says which field is wrong.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Standard base64 (surrounding whitespace ignored); `what` names the field on error.
pub(crate) fn b64(what: &str, s: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(s.trim())
        .map_err(|_| format!("{what} is not base64"))
}

/// Parses an RFC 3339 time (`2021-03-07T03:20:29.000Z`, any offset) to Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        for t in [
            0i64,
            1_634_714_717,
            1_775_719_409,
            951_782_400, /* 2000-02-29 */
        ] {
            assert_eq!(parse_rfc3339(&crate::image::rfc3339(t)), Some(t));
        }
        assert_eq!(
            parse_rfc3339("2021-03-07T03:20:29.000Z"),
            Some(1_615_087_229)
        );
        assert_eq!(parse_rfc3339("2021-13-07T03:20:29Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
