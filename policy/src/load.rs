//! Loading policies: YAML documents → [`ImagePolicy`] values, validated into a
//! [`PolicySet`] with a version.
//!
//! Loading is two passes. serde (with unknown fields denied) checks the shape and, through
//! `serde_path_to_error`, says where; then [`crate::validate`] checks what serde cannot.
//! Every error names the file, the line and column when the parser knows them, the YAML
//! path and what is wrong.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Invalid};
use crate::model::ImagePolicy;
use crate::validate::validate;

/// Every policy in force, with a version that changes when any of them (or a key, trusted
/// root or Rego file they name) changes: the cache key for decisions.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub policies: Vec<ImagePolicy>,
    /// `sha256:<hex>` over every byte the set was loaded from.
    pub version: String,
}

impl PolicySet {
    /// Loads and validates every policy in `files` (each may hold several YAML documents).
    pub fn load(files: &[PathBuf]) -> Result<Self, Error> {
        let mut hasher = Sha256::new();
        let mut policies = Vec::new();
        for f in files {
            let name = f.display().to_string();
            let text = std::fs::read_to_string(f).map_err(|source| Error::Read {
                file: name.clone(),
                source,
            })?;
            let base = f.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut loaded = parse_documents(&name, &text, &base, &mut hasher)?;
            policies.append(&mut loaded);
        }
        Self::finish(policies, hasher)
    }

    /// Loads policies from text already in memory (the registry's configuration, tests).
    /// Relative key, trusted-root and Rego paths are resolved against `base_dir`.
    pub fn from_yaml(name: &str, text: &str, base_dir: &Path) -> Result<Self, Error> {
        let mut hasher = Sha256::new();
        let policies = parse_documents(name, text, base_dir, &mut hasher)?;
        Self::finish(policies, hasher)
    }

    /// Validates and compiles policies built in Rust (the registry's pull gate builds its
    /// rules from project settings) exactly as a loaded file's: keys, trusted roots and
    /// Rego are loaded and compiled, every check applies, names must be unique. `source`
    /// stands where a file name would in errors; with several policies, errors also say
    /// which (`(policy 2) spec.rules[0]…`). Relative key, trusted-root and Rego paths are
    /// resolved against the current directory. The version hashes `source`, the policies
    /// as JSON and every key, root and Rego byte they load, so equal inputs give equal
    /// versions (and cached decisions stay valid).
    pub fn from_policies(source: &str, policies: Vec<ImagePolicy>) -> Result<Self, Error> {
        let mut hasher = Sha256::new();
        hasher.update(source.as_bytes());
        hasher.update([0]);
        let many = policies.len() > 1;
        let mut out = Vec::with_capacity(policies.len());
        for (i, mut policy) in policies.into_iter().enumerate() {
            hasher.update(serde_json::to_vec(&policy).expect("policy types serialize"));
            hasher.update([0]);
            policy.file = source.to_string();
            validate(&mut policy, Path::new("."), &mut hasher)
                .map_err(|e| within(e, many.then(|| format!("(policy {}) ", i + 1))))?;
            out.push(policy);
        }
        Self::finish(out, hasher)
    }

    fn finish(policies: Vec<ImagePolicy>, hasher: Sha256) -> Result<Self, Error> {
        let mut seen = std::collections::HashSet::new();
        for p in &policies {
            if !seen.insert(p.metadata.name.as_str()) {
                return Err(Error::invalid(
                    &p.file,
                    "metadata.name",
                    format!(
                        "policy name {:?} is used twice: names must be unique",
                        p.metadata.name
                    ),
                ));
            }
        }
        Ok(Self {
            policies,
            version: format!("sha256:{}", hex::encode(hasher.finalize())),
        })
    }

    /// The policies that cover `name` (`registry/repository`, no tag or digest).
    pub fn matching(&self, name: &str) -> Vec<&ImagePolicy> {
        self.policies.iter().filter(|p| p.covers(name)).collect()
    }
}

/// Every document in `text`, each deserialised then validated.
fn parse_documents(
    file: &str,
    text: &str,
    base: &Path,
    hasher: &mut Sha256,
) -> Result<Vec<ImagePolicy>, Error> {
    hasher.update(file.as_bytes());
    hasher.update([0]);
    hasher.update(text.as_bytes());
    hasher.update([0]);
    let mut out = Vec::new();
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Err(Error::invalid(file, ".", "no policy document in the file"));
    }
    let count = count_documents(file, text)?;
    let many = count > 1;
    for (i, doc) in serde_norway::Deserializer::from_str(text)
        .take(count)
        .enumerate()
    {
        let prefix = many.then(|| format!("(document {}) ", i + 1));
        let mut policy: ImagePolicy = serde_path_to_error::deserialize(doc).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.location().map(|l| (l.line(), l.column()));
            let message = strip_location(&inner.to_string(), &path);
            let e = Error::Invalid(Box::new(Invalid {
                file: file.to_string(),
                line,
                path,
                message,
            }));
            within(e, prefix.clone())
        })?;
        policy.file = file.to_string();
        validate(&mut policy, base, hasher).map_err(|e| within(e, prefix))?;
        out.push(policy);
    }
    Ok(out)
}

/// `e` with its YAML path prefixed by which document or policy it is in (`(document 2) `),
/// when the source holds several.
fn within(mut e: Error, prefix: Option<String>) -> Error {
    if let (Error::Invalid(inv), Some(prefix)) = (&mut e, prefix) {
        inv.path = format!("{prefix}{}", inv.path);
    }
    e
}

/// How many YAML documents `text` holds, or its first syntax error with its position.
///
/// After a syntax error libyaml's parser stays failed, and serde_norway's document
/// iterator yields that same error as one more document forever: collecting it never
/// ends (and allocates without bound). This walks the documents once, stopping at the
/// first error, so that the second pass, which reports errors by YAML path, can take
/// exactly `count` documents.
fn count_documents(file: &str, text: &str) -> Result<usize, Error> {
    let mut count = 0;
    for doc in serde_norway::Deserializer::from_str(text) {
        count += 1;
        if let Err(e) = serde::de::IgnoredAny::deserialize(doc) {
            let line = e.location().map(|l| (l.line(), l.column()));
            let message = e.to_string();
            // The position is printed up front; the context's own (where an unclosed
            // bracket was opened) is kept.
            let message = match line {
                Some((l, c)) => message.replacen(&format!(" at line {l} column {c}"), "", 1),
                None => message,
            };
            return Err(Error::Invalid(Box::new(Invalid {
                file: file.to_string(),
                line,
                path: if count > 1 {
                    format!("(document {count}) .")
                } else {
                    ".".into()
                },
                message: format!("invalid YAML: {message}"),
            })));
        }
    }
    Ok(count)
}

/// serde_norway words its messages `PARENT.PATH: what at line L column C`; we print the
/// location and the (more precise) path up front, so both are cut from the message.
fn strip_location(msg: &str, path: &str) -> String {
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    match msg.split_once(": ") {
        Some((head, rest)) if path.starts_with(head) => rest.to_string(),
        _ => msg.to_string(),
    }
}
