//! Rekor transparency log entries: reading them (bundle `tlogEntries[]`, cosign's legacy
//! Rekor bundle annotation), their signatures by a trusted log key (signed entry
//! timestamp; RFC 6962 inclusion proof up to a signed checkpoint), and what the entry
//! records (it must be this very signature, payload and certificate).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::KeylessError;
use super::certificate::pem_cert_matches;
use crate::decode::b64;
use crate::dsse;
use crate::trusted_root::{LogKey, TrustedRoot};
use crate::x509::{OID_ECDSA_SHA256, verify_ecdsa};

/// The fields of a Rekor entry that are verified.
pub(super) struct LogEntry {
    log_index: i64,
    log_id: Vec<u8>,
    pub(super) integrated_time: i64,
    body: Vec<u8>,
    body_b64: String,
    set: Option<Vec<u8>>,
    proof: Option<InclusionProof>,
}

struct InclusionProof {
    log_index: u64,
    tree_size: u64,
    root_hash: Vec<u8>,
    hashes: Vec<Vec<u8>>,
    checkpoint: String,
}

fn num(v: &serde_json::Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Reads a bundle `tlogEntries[]` element.
pub(super) fn parse_bundle_entry(e: &serde_json::Value) -> Result<LogEntry, KeylessError> {
    let err = |m: &str| KeylessError::Tlog(format!("malformed log entry: {m}"));
    let body_b64 = e["canonicalizedBody"]
        .as_str()
        .ok_or_else(|| err("no canonicalizedBody"))?
        .to_string();
    let proof = match e.get("inclusionProof") {
        Some(p) if !p.is_null() => Some(InclusionProof {
            log_index: num(&p["logIndex"]).ok_or_else(|| err("inclusionProof.logIndex"))? as u64,
            tree_size: num(&p["treeSize"]).ok_or_else(|| err("inclusionProof.treeSize"))? as u64,
            root_hash: b64("rootHash", p["rootHash"].as_str().unwrap_or_default())
                .map_err(|m| err(&m))?,
            hashes: p["hashes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|h| b64("proof hash", h.as_str().unwrap_or_default()))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .map_err(|m| err(&m))?
                .unwrap_or_default(),
            checkpoint: p["checkpoint"]["envelope"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }),
        _ => None,
    };
    Ok(LogEntry {
        log_index: num(&e["logIndex"]).ok_or_else(|| err("logIndex"))?,
        log_id: b64("logId", e["logId"]["keyId"].as_str().unwrap_or_default())
            .map_err(|m| err(&m))?,
        integrated_time: num(&e["integratedTime"]).ok_or_else(|| err("integratedTime"))?,
        body: b64("canonicalizedBody", &body_b64).map_err(|m| err(&m))?,
        body_b64,
        set: match e["inclusionPromise"]["signedEntryTimestamp"].as_str() {
            Some(s) => Some(b64("signedEntryTimestamp", s).map_err(|m| err(&m))?),
            None => None,
        },
        proof,
    })
}

/// Reads cosign's legacy Rekor bundle (`dev.sigstore.cosign/bundle` annotation).
pub(super) fn parse_rekor_bundle(json: &str) -> Result<LogEntry, KeylessError> {
    let rekor: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| KeylessError::Tlog(format!("Rekor bundle is not JSON: {e}")))?;
    let p = &rekor["Payload"];
    let body_b64 = p["body"]
        .as_str()
        .ok_or_else(|| KeylessError::Tlog("Rekor bundle has no body".into()))?;
    Ok(LogEntry {
        log_index: num(&p["logIndex"]).ok_or_else(|| KeylessError::Tlog("no logIndex".into()))?,
        log_id: hex::decode(p["logID"].as_str().unwrap_or_default())
            .map_err(|_| KeylessError::Tlog("logID is not hex".into()))?,
        integrated_time: num(&p["integratedTime"])
            .ok_or_else(|| KeylessError::Tlog("no integratedTime".into()))?,
        body: b64("body", body_b64).map_err(KeylessError::Tlog)?,
        body_b64: body_b64.to_string(),
        set: Some(
            b64(
                "SignedEntryTimestamp",
                rekor["SignedEntryTimestamp"].as_str().unwrap_or_default(),
            )
            .map_err(KeylessError::Tlog)?,
        ),
        proof: None,
    })
}

/// Verifies the signed entry timestamp of a legacy Rekor bundle annotation against the
/// trusted root's log keys; returns the entry's integration time.
pub fn verify_rekor_bundle(root: &TrustedRoot, json: &str) -> Result<i64, KeylessError> {
    let entry = parse_rekor_bundle(json)?;
    verify_log_entry(root, &entry)?;
    Ok(entry.integrated_time)
}

/// Verifies the entry's signatures by a trusted Rekor key: the signed entry timestamp, and
/// the inclusion proof up to a signed checkpoint when present. At least one is required.
pub(super) fn verify_log_entry(root: &TrustedRoot, entry: &LogEntry) -> Result<(), KeylessError> {
    let key = root
        .log_key(&entry.log_id)
        .ok_or_else(|| KeylessError::Tlog("entry is from a log not in the trusted root".into()))?;
    if !key.valid_for.contains(entry.integrated_time) {
        return Err(KeylessError::Tlog(
            "log key was not valid at the entry's integration time".into(),
        ));
    }
    if entry.set.is_none() && entry.proof.is_none() {
        return Err(KeylessError::Tlog(
            "entry has neither a signed entry timestamp nor an inclusion proof".into(),
        ));
    }
    if let Some(set) = &entry.set {
        // Rekor signs the canonical JSON (sorted keys) of these four fields.
        let signed = format!(
            "{{\"body\":{},\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{}}}",
            serde_json::Value::String(entry.body_b64.clone()),
            entry.integrated_time,
            hex::encode(&entry.log_id),
            entry.log_index
        );
        verify_ecdsa(&key.spki, OID_ECDSA_SHA256, signed.as_bytes(), set)
            .map_err(|e| KeylessError::Tlog(format!("signed entry timestamp: {e}")))?;
    }
    if let Some(p) = &entry.proof {
        let mut leaf = vec![0u8];
        leaf.extend_from_slice(&entry.body);
        let leaf_hash = Sha256::digest(&leaf).to_vec();
        let computed = merkle_root_from_proof(p.log_index, p.tree_size, &leaf_hash, &p.hashes)
            .map_err(|e| KeylessError::Tlog(format!("inclusion proof: {e}")))?;
        if computed != p.root_hash {
            return Err(KeylessError::Tlog(
                "inclusion proof does not lead to the stated root hash".into(),
            ));
        }
        verify_checkpoint(key, &p.checkpoint, p.tree_size, &p.root_hash)?;
    }
    Ok(())
}

impl LogEntry {
    fn body_json(&self) -> Result<serde_json::Value, KeylessError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| KeylessError::Tlog(format!("entry body is not JSON: {e}")))
    }

    /// Checks that a `dsse` entry records this envelope's payload, one of its signatures
    /// and the leaf certificate `leaf_der` as that signature's verifier.
    pub(super) fn check_records_dsse(
        &self,
        payload: &[u8],
        envelope: &dsse::Envelope,
        leaf_der: &[u8],
    ) -> Result<(), KeylessError> {
        let body = self.body_json()?;
        let spec = &body["spec"];
        let payload_hash = hex::encode(Sha256::digest(payload));
        match body["kind"].as_str() {
            Some("dsse") => {
                if spec["payloadHash"]["value"].as_str() != Some(payload_hash.as_str()) {
                    return Err(KeylessError::Tlog(
                        "log entry records a different payload".into(),
                    ));
                }
                let sigs = spec["signatures"].as_array().cloned().unwrap_or_default();
                let bound = sigs.iter().any(|s| {
                    envelope
                        .signatures
                        .iter()
                        .any(|es| s["signature"].as_str() == Some(es.sig.as_str()))
                        && s["verifier"]
                            .as_str()
                            .is_some_and(|v| pem_cert_matches(v, leaf_der))
                });
                if !bound {
                    return Err(KeylessError::Tlog(
                        "log entry records a different signature or certificate".into(),
                    ));
                }
                Ok(())
            }
            other => Err(KeylessError::Tlog(format!(
                "unsupported log entry kind {other:?} for a DSSE bundle"
            ))),
        }
    }

    /// Checks that a `hashedrekord` entry records this simple-signing payload, its
    /// base64 signature `sig_b64` and the leaf certificate `leaf_der`.
    pub(super) fn check_records_signature(
        &self,
        payload: &[u8],
        sig_b64: &str,
        leaf_der: &[u8],
    ) -> Result<(), KeylessError> {
        let body = self.body_json()?;
        let spec = &body["spec"];
        if spec["data"]["hash"]["value"].as_str()
            != Some(hex::encode(Sha256::digest(payload)).as_str())
            || spec["signature"]["content"].as_str() != Some(sig_b64)
            || !spec["signature"]["publicKey"]["content"]
                .as_str()
                .is_some_and(|v| pem_cert_matches(v, leaf_der))
        {
            return Err(KeylessError::Tlog(
                "log entry records a different payload, signature or certificate".into(),
            ));
        }
        Ok(())
    }
}

/// RFC 6962 / RFC 9162 inclusion proof verification.
fn merkle_root_from_proof(
    index: u64,
    size: u64,
    leaf: &[u8],
    proof: &[Vec<u8>],
) -> Result<Vec<u8>, String> {
    if index >= size {
        return Err(format!("index {index} beyond tree size {size}"));
    }
    let inner = 64 - (index ^ (size - 1)).leading_zeros() as usize;
    let border = (index >> inner).count_ones() as usize;
    if proof.len() != inner + border {
        return Err(format!(
            "expected {} hashes, got {}",
            inner + border,
            proof.len()
        ));
    }
    let node = |l: &[u8], r: &[u8]| {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l);
        h.update(r);
        h.finalize().to_vec()
    };
    let mut res = leaf.to_vec();
    for (i, h) in proof.iter().enumerate() {
        if i < inner && (index >> i) & 1 == 0 {
            res = node(&res, h);
        } else {
            res = node(h, &res);
        }
    }
    Ok(res)
}

/// Verifies a signed-note checkpoint ("origin\nsize\nroot\n\n— name base64(keyhint‖sig)").
fn verify_checkpoint(
    key: &LogKey,
    note: &str,
    size: u64,
    root_hash: &[u8],
) -> Result<(), KeylessError> {
    let err = |m: String| KeylessError::Tlog(format!("checkpoint: {m}"));
    let (text, sigs) = note
        .split_once("\n\n")
        .ok_or_else(|| err("not a signed note".into()))?;
    let text = format!("{text}\n");
    let mut lines = text.lines();
    let _origin = lines.next();
    let note_size: u64 = lines
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err("no tree size".into()))?;
    let note_root = lines
        .next()
        .map(|s| b64("root", s))
        .transpose()
        .map_err(err)?
        .ok_or_else(|| err("no root hash".into()))?;
    if note_size != size || note_root != root_hash {
        return Err(err("does not match the inclusion proof's tree".into()));
    }
    for line in sigs.lines() {
        let Some(rest) = line.strip_prefix("— ") else {
            continue;
        };
        let Some((_, sig_b64)) = rest.rsplit_once(' ') else {
            continue;
        };
        let Ok(raw) = STANDARD.decode(sig_b64) else {
            continue;
        };
        if raw.len() < 5 {
            continue;
        }
        if verify_ecdsa(&key.spki, OID_ECDSA_SHA256, text.as_bytes(), &raw[4..]).is_ok() {
            return Ok(());
        }
    }
    Err(err("no signature by the trusted log key".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_proof_small_tree() {
        // Tree of 3 leaves: root = H(1, H(1, l0, l1), l2).
        let leaf = |b: u8| Sha256::digest([0u8, b]).to_vec();
        let node = |l: &[u8], r: &[u8]| {
            let mut v = vec![1u8];
            v.extend_from_slice(l);
            v.extend_from_slice(r);
            Sha256::digest(&v).to_vec()
        };
        let (l0, l1, l2) = (leaf(0), leaf(1), leaf(2));
        let root = node(&node(&l0, &l1), &l2);
        assert_eq!(
            merkle_root_from_proof(0, 3, &l0, &[l1.clone(), l2.clone()]).unwrap(),
            root
        );
        assert_eq!(
            merkle_root_from_proof(2, 3, &l2, &[node(&l0, &l1)]).unwrap(),
            root
        );
        assert_ne!(
            merkle_root_from_proof(1, 3, &l1, &[l2.clone(), l0.clone()]).unwrap(),
            root
        );
        assert!(merkle_root_from_proof(3, 3, &l0, &[]).is_err());
    }
}
