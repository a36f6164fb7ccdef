//! `wharf db import osv PATH…`: OSV records as JSON or YAML files, directories of them
//! (recursively) and zip archives (osv.dev's `all.zip`). Bad records are skipped with a
//! warning; the import is one transaction, so a failed import changes nothing.

use std::io::Read;
use std::path::Path;

use rusqlite::params;
use serde::Serialize;

use super::Db;
use super::osv::{self, Osv};
use crate::inventory::Ecosystem;
use crate::{Error, Result, Warnings};

/// One record larger than this is refused (the largest real OSV records are ~1 MiB).
const MAX_RECORD: u64 = 32 << 20;

#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportStats {
    pub files: u64,
    pub advisories: u64,
    pub affected: u64,
    /// Files or records that could not be read at all.
    pub skipped: u64,
    /// `affected[]` entries naming no package in an ecosystem (osv.dev's `"package": {}`
    /// beside `GIT` ranges): dropped, the rest of their record kept.
    pub skipped_entries: u64,
}

impl Db {
    /// Imports OSV records from files, directories and zip archives.
    pub fn import_osv(
        &mut self,
        paths: &[impl AsRef<Path>],
        warnings: &mut Warnings,
    ) -> Result<ImportStats> {
        let tx = self.conn.transaction()?;
        let mut stats = ImportStats::default();
        {
            let mut sink = Sink::new(&tx)?;
            for p in paths {
                let p = p.as_ref();
                let md = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
                if md.is_dir() {
                    walk(p, &mut sink, &mut stats, warnings)?;
                } else {
                    import_file(p, &mut sink, &mut stats, warnings)?;
                }
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES('updated_at', strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
            [],
        )?;
        tx.commit()?;
        Ok(stats)
    }
}

fn walk(
    dir: &Path,
    sink: &mut Sink<'_>,
    stats: &mut ImportStats,
    warnings: &mut Warnings,
) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&e.path(), sink, stats, warnings)?;
        } else if ft.is_file() {
            let p = e.path();
            if has_ext(&p.to_string_lossy(), &["json", "yaml", "yml", "zip"]) {
                import_file(&p, sink, stats, warnings)?;
            }
        }
    }
    Ok(())
}

fn has_ext(name: &str, exts: &[&str]) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, e)| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn import_file(
    p: &Path,
    sink: &mut Sink<'_>,
    stats: &mut ImportStats,
    warnings: &mut Warnings,
) -> Result<()> {
    let name = p.to_string_lossy();
    if has_ext(&name, &["zip"]) {
        let f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
        let mut z = zip::ZipArchive::new(f).map_err(|e| Error::Advisory {
            path: name.to_string(),
            msg: e.to_string(),
        })?;
        for i in 0..z.len() {
            let mut entry = match z.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(format!("{name}: entry {i}: {e}"));
                    stats.skipped += 1;
                    continue;
                }
            };
            let Ok(inner) = entry.name().map(|n| n.to_string()) else {
                warnings.push(format!("{name}: entry {i} has an unreadable name"));
                continue;
            };
            let ename = format!("{name}!{inner}");
            if !entry.is_file() || !has_ext(&inner, &["json", "yaml", "yml"]) {
                continue;
            }
            let mut buf = Vec::new();
            if let Err(e) = (&mut entry).take(MAX_RECORD + 1).read_to_end(&mut buf) {
                warnings.push(format!("{ename}: {e}"));
                stats.skipped += 1;
                continue;
            }
            record(&ename, &buf, sink, stats, warnings)?;
        }
        return Ok(());
    }
    let mut buf = Vec::new();
    std::fs::File::open(p)
        .and_then(|f| f.take(MAX_RECORD + 1).read_to_end(&mut buf))
        .map_err(|e| Error::io(p, e))?;
    record(&name, &buf, sink, stats, warnings)
}

/// Parses one file: a record, or a JSON array of records.
fn record(
    name: &str,
    buf: &[u8],
    sink: &mut Sink<'_>,
    stats: &mut ImportStats,
    warnings: &mut Warnings,
) -> Result<()> {
    stats.files += 1;
    if buf.len() as u64 > MAX_RECORD {
        warnings.push(format!("{name}: larger than {MAX_RECORD} bytes; skipped"));
        stats.skipped += 1;
        return Ok(());
    }
    let parsed: std::result::Result<Vec<Osv>, String> = if has_ext(name, &["yaml", "yml"]) {
        serde_norway::from_slice::<Osv>(buf)
            .map(|o| vec![o])
            .map_err(|e| e.to_string())
    } else if buf.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        serde_json::from_slice::<Vec<Osv>>(buf).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice::<Osv>(buf)
            .map(|o| vec![o])
            .map_err(|e| e.to_string())
    };
    match parsed {
        Ok(records) => {
            for r in records {
                sink.insert(&r, name, stats)?;
            }
        }
        Err(e) => {
            warnings.push(format!("{name}: not an OSV record: {e}"));
            stats.skipped += 1;
        }
    }
    Ok(())
}

/// Prepared statements for one import transaction.
struct Sink<'c> {
    del: rusqlite::Statement<'c>,
    adv: rusqlite::Statement<'c>,
    aff: rusqlite::Statement<'c>,
}

impl<'c> Sink<'c> {
    fn new(tx: &'c rusqlite::Transaction<'_>) -> Result<Self> {
        Ok(Sink {
            del: tx.prepare("DELETE FROM affected WHERE advisory_id = ?1")?,
            adv: tx.prepare(
                "INSERT OR REPLACE INTO advisories(id, source, summary, details, aliases, published, modified, withdrawn, severity,
                    cvss_v3_vector, cvss_v3_score, cvss_v4_vector, cvss_v4_score, refs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?,
            aff: tx.prepare(
                "INSERT INTO affected(advisory_id, ecosystem, package, package_raw, ranges, versions, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?,
        })
    }

    fn insert(&mut self, r: &Osv, file: &str, stats: &mut ImportStats) -> Result<()> {
        if r.id.is_empty() {
            return Ok(());
        }
        let usable: Vec<(&osv::Affected, &osv::Package)> = r
            .affected
            .iter()
            .filter_map(|a| Some((a, a.package.as_ref().filter(|p| p.usable())?)))
            .collect();
        stats.skipped_entries += (r.affected.len() - usable.len()) as u64;
        // A record whose every entry is unusable can never match: not imported.
        if usable.is_empty() && !r.affected.is_empty() {
            stats.skipped += 1;
            return Ok(());
        }
        let (sev, v3, v4) = severity(r);
        self.del.execute(params![r.id])?;
        self.adv.execute(params![
            r.id,
            source_of(&r.id, file),
            r.summary,
            r.details,
            serde_json::to_string(&aliases(r))?,
            r.published,
            r.modified,
            r.withdrawn,
            sev,
            v3.as_ref().map(|s| &s.vector),
            v3.as_ref().map(|s| s.score),
            v4.as_ref().map(|s| &s.vector),
            v4.as_ref().map(|s| s.score),
            serde_json::to_string(&r.references)?,
        ])?;
        stats.advisories += 1;
        for (a, pkg) in usable {
            let norm = match Ecosystem::from_osv(&pkg.ecosystem) {
                Some((eco, _)) => eco.normalize_name(&pkg.name),
                None => pkg.name.clone(),
            };
            self.aff.execute(params![
                r.id,
                pkg.ecosystem,
                norm,
                pkg.name,
                serde_json::to_string(&a.ranges)?,
                serde_json::to_string(&a.versions)?,
                status_of(a),
            ])?;
            stats.affected += 1;
        }
        Ok(())
    }
}

/// The ids a finding carries besides the record's own: its aliases and, for a distro
/// advisory (Debian's DSA/DLA/DTSA), the CVEs it lists under `related`. Debian's records
/// name their CVEs only there, and a finding must show both the DSA and its CVE (as Trivy
/// does: CVE id, the DSA in `VendorIDs`). A CVE record's own `related` (other vendors'
/// advisories) is not taken: those are not the same vulnerability in this ecosystem.
fn aliases(r: &Osv) -> Vec<String> {
    let mut out = r.aliases.clone();
    if !r.id.starts_with("CVE-") {
        for id in r.related.iter().filter(|x| x.starts_with("CVE-")) {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
    }
    out
}

/// The row status of one entry. Debian's tracker marks releases out of security support
/// `urgency: end-of-life`: Trivy reports those as `end_of_life`, with no fix, so
/// `--ignore-unfixed` hides them. `unimportant` is a severity (Trivy: LOW), not a status:
/// such an entry is affected, fixed or not as its ranges say.
fn status_of(a: &osv::Affected) -> Option<&'static str> {
    match urgency(a) {
        Some("end-of-life") => Some("end_of_life"),
        _ => None,
    }
}

/// Debian's `ecosystem_specific.urgency` of one entry.
fn urgency(a: &osv::Affected) -> Option<&str> {
    a.ecosystem_specific.as_ref()?.get("urgency")?.as_str()
}

/// The feed an advisory comes from, by its id prefix (OSV ids are `PREFIX-…`).
fn source_of(id: &str, file: &str) -> String {
    let prefix = id.split('-').next().unwrap_or("");
    match prefix {
        "PYSEC" => "pypa".into(),
        "GO" => "go".into(),
        "RUSTSEC" => "rustsec".into(),
        "GHSA" => "ghsa".into(),
        "DSA" | "DLA" | "DTSA" => "debian".into(),
        "USN" => "ubuntu".into(),
        "ALPINE" => "alpine".into(),
        "" => file.to_string(),
        p => p.to_ascii_lowercase(),
    }
}

/// Advisory severity: CVSS v3, else CVSS v4, else the source's own label, else UNKNOWN.
fn severity(r: &Osv) -> (String, Option<osv::Scored>, Option<osv::Scored>) {
    let all = r
        .severity
        .iter()
        .chain(r.affected.iter().flat_map(|a| a.severity.iter()));
    let (mut v3, mut v4) = (None, None);
    for s in all {
        match s.kind.as_str() {
            "CVSS_V3" if v3.is_none() => v3 = osv::score_v3(&s.score),
            "CVSS_V4" if v4.is_none() => v4 = osv::score_v4(&s.score),
            _ => {}
        }
    }
    let label = v3
        .as_ref()
        .map(|s| s.severity.clone())
        .or_else(|| v4.as_ref().map(|s| s.severity.clone()))
        .filter(|s| s != "NONE")
        .or_else(|| {
            let from = |v: &Option<serde_json::Value>| {
                v.as_ref()?
                    .get("severity")?
                    .as_str()
                    .and_then(osv::normalize_severity)
                    .map(String::from)
            };
            from(&r.database_specific)
                .or_else(|| {
                    r.affected.iter().find_map(|a| {
                        from(&a.ecosystem_specific).or_else(|| from(&a.database_specific))
                    })
                })
                .or_else(|| {
                    r.affected
                        .iter()
                        .find_map(|a| osv::urgency_severity(urgency(a)?))
                        .map(String::from)
                })
        })
        .unwrap_or_else(|| "UNKNOWN".into());
    (label, v3, v4)
}
