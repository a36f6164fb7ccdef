//! `wharf db import alpine-secdb PATH…`: Alpine's secdb (`secdb.alpinelinux.org`,
//! `v3.19/main.json`): `{distroversion, packages: [{pkg: {name, secfixes: {version: [ids]}}}]}`.
//!
//! What the format means, and how it becomes rows:
//! - `name` is the **origin** package (apk `o:`): `openssl` covers `libcrypto3` and `libssl3`.
//! - `distroversion` `v3.19` is the release: ecosystem `Alpine:v3.19`, what the matcher asks
//!   for an image whose os-release says 3.19.x.
//! - `secfixes` maps the version that fixed them to ids; its keys are not sorted. The key
//!   `"0"` means "never affected in this release": such a row gets status `not_affected`.
//! - An id string may carry several ids (`CVE-2016-9932 XSA-200`): each CVE becomes an
//!   advisory; a string with no CVE (`XSA-207`) keeps its first id.
//!
//! One advisory per id, `ALPINE-<id>` (the CVE itself stays an alias, so findings show the
//! CVE and a Debian/OSV record of that CVE is never replaced), one affected row per
//! (release, origin package): `introduced 0, fixed <lowest version listing it>`. Importing a
//! release again replaces its rows and leaves other releases alone.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use rusqlite::params;
use serde::Deserialize;

use super::Db;
use super::import::ImportStats;
use super::osv::{Event, Range};
use crate::inventory::Ecosystem;
use crate::versions;
use crate::{Error, Result, Warnings};

/// A secdb file larger than this is refused (the largest real one, edge/main, is ~1 MiB).
const MAX_FILE: u64 = 64 << 20;

#[derive(Deserialize)]
struct SecDb {
    distroversion: String,
    #[serde(default)]
    packages: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    pkg: Pkg,
}

#[derive(Deserialize)]
struct Pkg {
    name: String,
    #[serde(default)]
    secfixes: Option<BTreeMap<String, Option<Vec<String>>>>,
}

/// What one release says about one id in one origin package.
#[derive(Default)]
struct Fix {
    not_affected: bool,
    fixed: Vec<String>,
}

impl Db {
    /// Imports secdb JSON files and directories of them (recursively, `*.json`). One
    /// transaction: a file that is not secdb is skipped with a warning, a failed import
    /// changes nothing.
    pub fn import_alpine_secdb(
        &mut self,
        paths: &[impl AsRef<Path>],
        warnings: &mut Warnings,
    ) -> Result<ImportStats> {
        let mut files = Vec::new();
        for p in paths {
            collect(p.as_ref(), &mut files)?;
        }
        let tx = self.conn.transaction()?;
        let mut stats = ImportStats::default();
        let mut ids = std::collections::HashSet::new();
        {
            let mut adv = tx.prepare(
                "INSERT OR IGNORE INTO advisories(id, source, aliases, severity, refs)
                 VALUES (?1, 'alpine', ?2, 'UNKNOWN', ?3)",
            )?;
            let mut del = tx.prepare(
                "DELETE FROM affected WHERE advisory_id = ?1 AND ecosystem = ?2 AND package = ?3",
            )?;
            let mut aff = tx.prepare(
                "INSERT INTO affected(advisory_id, ecosystem, package, package_raw, ranges, versions, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, '[]', ?6)",
            )?;
            for file in &files {
                stats.files += 1;
                let name = file.display().to_string();
                let db = match read(file) {
                    Ok(db) => db,
                    Err(msg) => {
                        warnings.push(format!("{name}: {msg}; skipped"));
                        stats.skipped += 1;
                        continue;
                    }
                };
                let Some(eco) = ecosystem(&db.distroversion) else {
                    warnings.push(format!(
                        "{name}: distroversion {:?} is not vX.Y or edge; skipped",
                        db.distroversion
                    ));
                    stats.skipped += 1;
                    continue;
                };
                for e in &db.packages {
                    let origin = &e.pkg.name;
                    for (id, aliases, fix) in fixes(&e.pkg) {
                        let adv_id = format!("ALPINE-{id}");
                        let refs = serde_json::json!([{
                            "type": "ADVISORY",
                            "url": format!("https://security.alpinelinux.org/vuln/{id}"),
                        }]);
                        adv.execute(params![
                            adv_id,
                            serde_json::to_string(&aliases)?,
                            refs.to_string()
                        ])?;
                        let norm = Ecosystem::Alpine.normalize_name(origin);
                        del.execute(params![adv_id, eco, norm])?;
                        let (ranges, status) = if fix.not_affected {
                            (Vec::new(), Some("not_affected"))
                        } else {
                            (vec![fixed_range(&fix.fixed)], None)
                        };
                        aff.execute(params![
                            adv_id,
                            eco,
                            norm,
                            origin,
                            serde_json::to_string(&ranges)?,
                            status
                        ])?;
                        stats.affected += 1;
                        ids.insert(adv_id);
                    }
                }
            }
        }
        stats.advisories = ids.len() as u64;
        tx.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES('updated_at', strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
            [],
        )?;
        tx.commit()?;
        Ok(stats)
    }
}

/// `v3.19` → `Alpine:v3.19`; `edge` → `Alpine:edge`.
fn ecosystem(distroversion: &str) -> Option<String> {
    let ok = distroversion == "edge"
        || distroversion.strip_prefix('v').is_some_and(|v| {
            let mut parts = v.split('.');
            parts.clone().count() == 2 && parts.all(|p| p.parse::<u32>().is_ok())
        });
    ok.then(|| format!("Alpine:{distroversion}"))
}

fn collect(p: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    let md = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
    if !md.is_dir() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(p)
        .map_err(|e| Error::io(p, e))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect(&e, out)?;
        } else if e
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("json"))
        {
            out.push(e);
        }
    }
    Ok(())
}

fn read(p: &Path) -> std::result::Result<SecDb, String> {
    let mut buf = Vec::new();
    std::fs::File::open(p)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_end(&mut buf))
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 > MAX_FILE {
        return Err(format!("larger than {MAX_FILE} bytes"));
    }
    serde_json::from_slice(&buf).map_err(|e| format!("not an Alpine secdb file: {e}"))
}

/// Every id one package's `secfixes` names, with its aliases and what the release says.
/// A `"0"` key anywhere makes the id not affected; otherwise every version listing it is
/// kept (the lowest closes the range).
fn fixes(pkg: &Pkg) -> Vec<(String, Vec<String>, Fix)> {
    let mut by_id: BTreeMap<String, (Vec<String>, Fix)> = BTreeMap::new();
    for (version, entries) in pkg.secfixes.iter().flatten() {
        for entry in entries.iter().flatten() {
            let tokens: Vec<&str> = entry.split_whitespace().collect();
            let cves: Vec<&str> = tokens
                .iter()
                .copied()
                .filter(|t| t.starts_with("CVE-"))
                .collect();
            let ids = if cves.is_empty() {
                tokens.first().copied().into_iter().collect()
            } else {
                cves
            };
            for id in ids {
                let (aliases, fix) = by_id.entry(id.to_string()).or_default();
                for t in &tokens {
                    if t.starts_with("CVE-") && !aliases.iter().any(|a| a == t) {
                        aliases.push(t.to_string());
                    }
                }
                if version == "0" {
                    fix.not_affected = true;
                } else {
                    fix.fixed.push(version.clone());
                }
            }
        }
    }
    by_id
        .into_iter()
        .map(|(id, (aliases, fix))| (id, aliases, fix))
        .collect()
}

/// `introduced 0, fixed <the lowest fixed version>`, by Alpine's ordering.
fn fixed_range(fixed: &[String]) -> Range {
    let lowest = fixed
        .iter()
        .min_by(|a, b| {
            versions::compare(Ecosystem::Alpine, a, b).unwrap_or_else(|| a.as_str().cmp(b))
        })
        .cloned();
    Range {
        kind: "ECOSYSTEM".into(),
        events: vec![
            Event {
                introduced: Some("0".into()),
                ..Default::default()
            },
            Event {
                fixed: lowest,
                ..Default::default()
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distroversions() {
        assert_eq!(ecosystem("v3.19").as_deref(), Some("Alpine:v3.19"));
        assert_eq!(ecosystem("edge").as_deref(), Some("Alpine:edge"));
        assert_eq!(ecosystem("3.19"), None);
        assert_eq!(ecosystem("v3.19.1"), None);
    }

    #[test]
    fn secfixes_keys_unsorted_zero_and_compound_ids() {
        let pkg: Pkg = serde_json::from_str(
            r#"{"name":"xen","secfixes":{
                "4.9.1-r0":["CVE-2017-1 XSA-200"],
                "0":["CVE-2017-3"],
                "4.10.0-r1":["CVE-2017-1","XSA-207"],
                "4.2.0-r0":["CVE-2017-2"]}}"#,
        )
        .unwrap();
        let got = fixes(&pkg);
        let by: BTreeMap<_, _> = got.iter().map(|(id, a, f)| (id.as_str(), (a, f))).collect();
        assert_eq!(by.len(), 4, "{:?}", by.keys().collect::<Vec<_>>());
        let (aliases, f) = by["CVE-2017-1"];
        assert_eq!(aliases, &vec!["CVE-2017-1".to_string()]);
        assert!(!f.not_affected);
        // 4.9.1-r0 < 4.10.0-r1 in Alpine's ordering (numeric components), not as strings
        let r = fixed_range(&f.fixed);
        assert_eq!(r.events[1].fixed.as_deref(), Some("4.9.1-r0"));
        assert!(by["CVE-2017-3"].1.not_affected);
        assert!(by["XSA-207"].0.is_empty());
    }
}
