//! RFC 3161 signed timestamps: tokens made by a real TSA (`openssl ts`, with a CA and a
//! time-stamping certificate made here), the real public-good bundle's timestamp, and the
//! bundle verification that counts a verified timestamp as a time the certificate must
//! be valid at. The fixture bundle was signed 2026-04-09 07:23:29 UTC with a ten-minute
//! certificate, so the test TSA runs under `faketime` to stamp inside that window.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::read_fixture;
use wharf_signer::keyless::{IdentityPolicy, KeylessError, TrustedRoot, verify_bundle};
use wharf_signer::timestamp::{self, TimestampError};

const DIGEST: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const SIGNED_AT: i64 = 1_775_719_409; // 2026-04-09T07:23:29Z

fn require(tool: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{tool} is not installed (apt-get install openssl faketime)"
    );
}

/// Runs `script` in `dir`, at fake UTC time `at` ("YYYY-MM-DD HH:MM:SS") or now.
fn sh(dir: &Path, at: Option<&str>, script: &str) {
    let mut c = match at {
        Some(t) => {
            let mut c = Command::new("faketime");
            c.arg(t).arg("sh");
            c
        }
        None => Command::new("sh"),
    };
    let out = c
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A timestamp authority: self-signed root `<name>-ca.pem` and a time-stamping
/// certificate `<name>.pem` (critical EKU timeStamping) issued by it, made at `at`.
fn make_tsa(dir: &Path, name: &str, at: &str) {
    std::fs::write(
        dir.join("tsa-ext.cnf"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\n",
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{name}-ts.cnf")),
        format!(
            "[ tsa ]\ndefault_tsa = tsa_config1\n[ tsa_config1 ]\nserial = {name}-serial\n\
             crypto_device = builtin\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n\
             digests = sha256, sha384, sha512\naccuracy = secs:1\nordering = no\ntsa_name = no\n\
             ess_cert_id_chain = no\ness_cert_id_alg = sha256\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join(format!("{name}-serial")), "01\n").unwrap();
    sh(
        dir,
        Some(at),
        &format!(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
             -subj /CN={name}-root -addext basicConstraints=critical,CA:TRUE \
             -addext keyUsage=critical,keyCertSign -keyout {name}-ca.key -out {name}-ca.pem 2>/dev/null && \
             openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN={name} \
             -keyout {name}.key -out {name}.csr 2>/dev/null && \
             openssl x509 -req -in {name}.csr -CA {name}-ca.pem -CAkey {name}-ca.key -CAcreateserial \
             -days 30 -extfile tsa-ext.cnf -out {name}.pem 2>/dev/null"
        ),
    );
}

/// Timestamps `data` with TSA `name` at `at` (None: now); returns the DER TimeStampResp.
fn stamp(dir: &Path, name: &str, data: &[u8], at: Option<&str>) -> Vec<u8> {
    std::fs::write(dir.join("data.bin"), data).unwrap();
    sh(
        dir,
        at,
        &format!(
            "openssl ts -query -data data.bin -sha256 -cert -no_nonce -out req.tsq 2>/dev/null && \
             openssl ts -reply -queryfile req.tsq -inkey {name}.key -signer {name}.pem \
             -config {name}-ts.cnf -out resp.tsr 2>/dev/null"
        ),
    );
    std::fs::read(dir.join("resp.tsr")).unwrap()
}

fn chain_pem(dir: &Path, name: &str) -> String {
    let read = |f: String| std::fs::read_to_string(dir.join(f)).unwrap();
    format!(
        "{}{}",
        read(format!("{name}.pem")),
        read(format!("{name}-ca.pem"))
    )
}

fn public_good() -> TrustedRoot {
    TrustedRoot::parse(read_fixture("sigstore_public_good_trusted_root.json").as_bytes()).unwrap()
}

/// The trusted root with (only) the test TSA as timestamp authority.
fn tsas_of(dir: &Path, name: &str) -> TrustedRoot {
    public_good()
        .with_timestamp_chain(&chain_pem(dir, name))
        .unwrap()
}

fn verify_token(root: &TrustedRoot, der: &[u8], sig: &[u8]) -> Result<i64, TimestampError> {
    root.verify_timestamp(der, sig)
}

fn bundle() -> serde_json::Value {
    serde_json::from_str(&read_fixture("sigstore_rs_bundle_v03_keyless_dsse.json")).unwrap()
}

fn bundle_sig(b: &serde_json::Value) -> Vec<u8> {
    STANDARD
        .decode(b["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap())
        .unwrap()
}

fn with_timestamps(b: &serde_json::Value, tokens: &[Vec<u8>]) -> Vec<u8> {
    let mut b = b.clone();
    b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"] = tokens
        .iter()
        .map(|t| serde_json::json!({"signedTimestamp": STANDARD.encode(t)}))
        .collect();
    b.to_string().into_bytes()
}

fn policy() -> IdentityPolicy {
    IdentityPolicy::new(
        None,
        Some("^https://github.com/kubewarden/"),
        Some("https://token.actions.githubusercontent.com"),
        None,
    )
    .unwrap()
}

#[test]
fn openssl_timestamp_verifies_and_tampering_fails() {
    require("openssl");
    require("faketime");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_tsa(d, "tsa", "2026-04-09 07:20:00");
    make_tsa(d, "rogue", "2026-04-09 07:20:00");
    let sig = b"the bytes of some signature";
    let resp = stamp(d, "tsa", sig, Some("2026-04-09 07:23:35"));
    let root = tsas_of(d, "tsa");
    let t = verify_token(&root, &resp, sig).unwrap();
    assert!((t - (SIGNED_AT + 6)).abs() <= 2, "stamped at {t}");
    // The bare token (without the response status) verifies the same.
    sh(
        d,
        None,
        "openssl ts -reply -in resp.tsr -token_out -out token.der 2>/dev/null",
    );
    let token = std::fs::read(d.join("token.der")).unwrap();
    assert_eq!(verify_token(&root, &token, sig).unwrap(), t);
    let parsed = timestamp::parse(&resp).unwrap();
    assert_eq!(parsed.info.policy, "1.2.3.4.1");
    assert_eq!(parsed.info.gen_time, t);

    // Wrong imprint: a timestamp of other bytes.
    assert_eq!(
        verify_token(&root, &resp, b"other signature"),
        Err(TimestampError::ImprintMismatch)
    );
    // Wrong TSA root: the token's certificate chains to the rogue's root only.
    let e = verify_token(&tsas_of(d, "rogue"), &resp, sig).unwrap_err();
    assert!(matches!(e, TimestampError::Chain(_)), "{e}");
    // No TSA at all.
    assert_eq!(
        public_good().verify_timestamp(&resp, sig),
        Err(TimestampError::NoTrustedTsa)
    );
    // Tampered TSTInfo (another genTime): the signed message digest no longer matches.
    let pos = resp
        .windows(10)
        .position(|w| w == b"2026040907")
        .expect("genTime in the token");
    let mut t2 = resp.clone();
    t2[pos + 9] = b'8';
    let e = verify_token(&root, &t2, sig).unwrap_err();
    assert!(
        matches!(e, TimestampError::SignedAttributes(ref m) if m.contains("message-digest")),
        "{e}"
    );
    // Tampered signature (the token's last bytes are the ECDSA signature's s).
    let mut t3 = resp.clone();
    let n = t3.len();
    t3[n - 2] ^= 1;
    let e = verify_token(&root, &t3, sig).unwrap_err();
    assert!(matches!(e, TimestampError::Signature(_)), "{e}");
    // Truncated or garbage tokens are malformed, not a panic.
    assert!(matches!(
        verify_token(&root, &resp[..resp.len() - 5], sig),
        Err(TimestampError::Malformed(_))
    ));
    assert!(matches!(
        verify_token(&root, b"\x30\x03\x02\x01\x02", sig),
        Err(TimestampError::Malformed(_) | TimestampError::NotGranted(_))
    ));
    // A stamp made after the TSA certificate expired (30 days) is refused.
    let late = stamp(d, "tsa", sig, Some("2026-05-20 00:00:00"));
    let e = verify_token(&root, &late, sig).unwrap_err();
    assert!(
        matches!(e, TimestampError::Certificate(ref m) if m.contains("not valid")),
        "{e}"
    );
    // The chain must be in order (TSA first) and end in a self-signed root.
    let ca = std::fs::read_to_string(d.join("tsa-ca.pem")).unwrap();
    let leaf = std::fs::read_to_string(d.join("tsa.pem")).unwrap();
    assert!(
        public_good()
            .with_timestamp_chain(&format!("{ca}{leaf}"))
            .is_err()
    );
    assert!(public_good().with_timestamp_chain(&leaf).is_err());
}

/// The public-good bundle's own timestamp: structure and imprint check out; its signer
/// (Sigstore's TSA, not in the fixture trusted root) cannot be verified here.
#[test]
fn fixture_timestamp_structure_and_imprint() {
    let b = bundle();
    let tokens = timestamp::bundle_timestamps(Some(
        &b["verificationMaterial"]["timestampVerificationData"],
    ))
    .unwrap();
    assert_eq!(tokens.len(), 1);
    let t = timestamp::parse(&tokens[0]).unwrap();
    assert_eq!(t.info.gen_time, SIGNED_AT);
    assert_eq!(t.info.hash_alg, "2.16.840.1.101.3.4.2.1");
    assert_eq!(t.info.policy, "1.3.6.1.4.1.57264.2");
    t.check_imprint(&bundle_sig(&b)).unwrap();
    assert_eq!(t.check_imprint(b"x"), Err(TimestampError::ImprintMismatch));
}

#[test]
fn bundle_timestamps_count_as_signing_times() {
    require("openssl");
    require("faketime");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_tsa(d, "tsa", "2026-04-09 07:20:00");
    let b = bundle();
    let sig = bundle_sig(&b);
    let none = BTreeMap::new();

    // No TSA trusted: the bundle's timestamp is not used (and said so); the log entry dates it.
    let v = verify_bundle(
        b.to_string().as_bytes(),
        DIGEST,
        &public_good(),
        &policy(),
        &none,
    )
    .unwrap();
    assert!(v.timestamps.is_empty());
    assert!(
        v.notes.iter().any(|n| n.contains("not used")),
        "{:?}",
        v.notes
    );

    // Our TSA trusted: Sigstore's timestamp in the bundle cannot be verified with it.
    let root = tsas_of(d, "tsa");
    let e = verify_bundle(b.to_string().as_bytes(), DIGEST, &root, &policy(), &none).unwrap_err();
    assert!(
        matches!(e, KeylessError::Timestamp(TimestampError::SignerNotFound)),
        "{e}"
    );

    // A timestamp by our TSA inside the certificate's ten minutes: verified and counted.
    let good = stamp(d, "tsa", &sig, Some("2026-04-09 07:23:35"));
    let v = verify_bundle(
        &with_timestamps(&b, std::slice::from_ref(&good)),
        DIGEST,
        &root,
        &policy(),
        &none,
    )
    .unwrap();
    assert_eq!(v.timestamps.len(), 1);
    assert!((v.timestamps[0] - (SIGNED_AT + 6)).abs() <= 2);
    assert!(v.notes.is_empty());
    // The same through a trusted_root.json timestampAuthorities entry.
    let mut json: serde_json::Value =
        serde_json::from_str(&read_fixture("sigstore_public_good_trusted_root.json")).unwrap();
    let der = |f: &str| {
        let pem = std::fs::read_to_string(d.join(f)).unwrap();
        let block = wharf_signer::pem::parse_first(&pem).unwrap();
        serde_json::json!({"rawBytes": STANDARD.encode(block.contents)})
    };
    json["timestampAuthorities"] = serde_json::json!([{
        "subject": {"commonName": "tsa"},
        "certChain": {"certificates": [der("tsa.pem"), der("tsa-ca.pem")]},
        "validFor": {"start": "2026-01-01T00:00:00Z"}
    }]);
    let json_root = TrustedRoot::parse(json.to_string().as_bytes()).unwrap();
    verify_bundle(
        &with_timestamps(&b, std::slice::from_ref(&good)),
        DIGEST,
        &json_root,
        &policy(),
        &none,
    )
    .unwrap();

    // A timestamp made now, long after the certificate expired: the certificate was not
    // valid at that time, so the bundle fails even though the log entry is fine.
    let now = stamp(d, "tsa", &sig, Some("2026-04-20 12:00:00"));
    let e = verify_bundle(
        &with_timestamps(&b, &[now]),
        DIGEST,
        &root,
        &policy(),
        &none,
    )
    .unwrap_err();
    assert!(
        matches!(e, KeylessError::Certificate(ref m) if m.contains("not valid at")),
        "{e}"
    );
    // A timestamp over other bytes: wrong imprint.
    let other = stamp(d, "tsa", b"not the signature", Some("2026-04-09 07:23:35"));
    let e = verify_bundle(
        &with_timestamps(&b, &[other]),
        DIGEST,
        &root,
        &policy(),
        &none,
    )
    .unwrap_err();
    assert!(
        matches!(e, KeylessError::Timestamp(TimestampError::ImprintMismatch)),
        "{e}"
    );
    // A second, tampered timestamp next to the good one fails the bundle.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 2] ^= 1;
    let e = verify_bundle(
        &with_timestamps(&b, &[good, bad]),
        DIGEST,
        &root,
        &policy(),
        &none,
    )
    .unwrap_err();
    assert!(
        matches!(e, KeylessError::Timestamp(TimestampError::Signature(_))),
        "{e}"
    );
}

/// The ESS signingCertificateV2 attribute names the TSA's exact certificate: another
/// certificate with the same issuer, serial number and key (here re-issued by the same
/// CA with another validity) matches the token's signer identifier and its signature
/// would verify, but it is not the certificate the TSA signed with, so it is refused.
#[test]
fn signing_certificate_attribute_pins_the_signer_certificate() {
    require("openssl");
    require("faketime");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_tsa(d, "tsa", "2026-04-09 07:20:00");
    sh(
        d,
        Some("2026-04-09 07:20:00"),
        "openssl x509 -req -in tsa.csr -CA tsa-ca.pem -CAkey tsa-ca.key \
         -set_serial 0x$(openssl x509 -in tsa.pem -noout -serial | cut -d= -f2) \
         -days 29 -extfile tsa-ext.cnf -out imposter.pem 2>/dev/null",
    );
    // A token without the TSA certificate inside (no -cert): only the trusted chain's
    // certificates are candidates for the signer.
    let sig = b"the bytes of some signature";
    std::fs::write(d.join("data.bin"), sig).unwrap();
    sh(
        d,
        Some("2026-04-09 07:23:35"),
        "openssl ts -query -data data.bin -sha256 -no_nonce -out req.tsq 2>/dev/null && \
         openssl ts -reply -queryfile req.tsq -inkey tsa.key -signer tsa.pem \
         -config tsa-ts.cnf -out resp.tsr 2>/dev/null",
    );
    let resp = std::fs::read(d.join("resp.tsr")).unwrap();
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();

    // With the real TSA certificate trusted, the token verifies.
    let real = public_good()
        .with_timestamp_chain(&format!("{}{}", read("tsa.pem"), read("tsa-ca.pem")))
        .unwrap();
    verify_token(&real, &resp, sig).unwrap();
    // With the look-alike trusted instead: same issuer and serial, other certificate.
    let imposter = public_good()
        .with_timestamp_chain(&format!("{}{}", read("imposter.pem"), read("tsa-ca.pem")))
        .unwrap();
    let e = verify_token(&imposter, &resp, sig).unwrap_err();
    assert!(
        matches!(e, TimestampError::SignedAttributes(ref m) if m.contains("signingCertificateV2")),
        "{e}"
    );
}
