//! Minimal PEM (RFC 7468) reading and writing.
//!
//! Our own small parser because cosign's key files carry non-standard labels
//! ("ENCRYPTED SIGSTORE PRIVATE KEY") whose body is base64 of JSON, and certificate
//! bundles hold several blocks; both are easier to handle uniformly here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    pub label: String,
    pub contents: Vec<u8>,
}

/// Why a PEM text could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PemError {
    #[error("no PEM block found (expected a '-----BEGIN ...-----' line)")]
    NoBlock,
    #[error("PEM block '{0}' has no matching END line")]
    Unterminated(String),
    #[error("PEM block '{0}' is not valid base64")]
    BadBase64(String),
}

/// Parses every PEM block in `text`, in order. Text outside blocks is ignored,
/// as openssl and Go's `pem.Decode` do.
pub fn parse_all(text: &str) -> Result<Vec<PemBlock>, PemError> {
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for inner in lines.by_ref() {
            let inner = inner.trim();
            if inner == end {
                closed = true;
                break;
            }
            // RFC 1421 headers (e.g. "Proc-Type:") are not used by any format we read.
            if inner.contains(':') {
                continue;
            }
            body.push_str(inner);
        }
        if !closed {
            return Err(PemError::Unterminated(label.to_string()));
        }
        let contents = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| PemError::BadBase64(label.to_string()))?;
        blocks.push(PemBlock {
            label: label.to_string(),
            contents,
        });
    }
    Ok(blocks)
}

/// Parses the first PEM block in `text`.
pub fn parse_first(text: &str) -> Result<PemBlock, PemError> {
    parse_all(text)?.into_iter().next().ok_or(PemError::NoBlock)
}

/// Encodes one block with 64-column lines and a trailing newline, like Go's `pem.Encode`.
pub fn encode(label: &str, contents: &[u8]) -> String {
    let b64 = STANDARD.encode(contents);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_multiple_blocks() {
        let a = encode("A", &[1u8; 100]);
        let b = encode("B THING", b"hello");
        let all = parse_all(&format!("junk\n{a}between\n{b}")).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].label, "A");
        assert_eq!(all[0].contents, vec![1u8; 100]);
        assert_eq!(all[1].label, "B THING");
        assert_eq!(all[1].contents, b"hello");
        assert!(a.lines().all(|l| l.len() <= 64));
    }

    #[test]
    fn errors() {
        assert_eq!(parse_first("nothing here"), Err(PemError::NoBlock));
        assert_eq!(
            parse_first("-----BEGIN X-----\nAAAA\n"),
            Err(PemError::Unterminated("X".into()))
        );
        assert_eq!(
            parse_first("-----BEGIN X-----\n!!!!\n-----END X-----\n"),
            Err(PemError::BadBase64("X".into()))
        );
    }
}
