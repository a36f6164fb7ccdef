//! `wharf db import trivy PATH`: every advisory of a `trivy.db` into Wharf's DB, in one
//! SQLite transaction (a failed import changes nothing). Records Wharf cannot express are
//! skipped with a warning; a damaged bbolt file is an error.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::params;

use super::model::{self, Advisory, DataSource, Metadata, Vulnerability};
use super::{NON_SOURCE_BUCKETS, bolt, constraint, ecosystem_of};
use crate::db::Db;
use crate::db::import::ImportStats;
use crate::db::osv::{self, Reference};
use crate::inventory::Ecosystem;
use crate::{Error, Result, Warnings};

/// A value larger than this is refused (the largest real ones are a few hundred KiB).
const MAX_VALUE: usize = 8 << 20;

/// `PATH` may be `trivy.db`, or a directory holding it (Trivy's cache `db/` or its parent).
fn locate(path: &Path) -> Result<(PathBuf, Option<PathBuf>)> {
    let file = if path.is_dir() {
        [path.join("trivy.db"), path.join("db/trivy.db")]
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| Error::Db(format!("no trivy.db in {}", path.display())))?
    } else {
        path.to_path_buf()
    };
    let meta = file.with_file_name("metadata.json");
    Ok((file.clone(), meta.is_file().then_some(meta)))
}

/// Reads and checks `metadata.json`.
pub fn read_metadata(path: &Path) -> Result<Metadata> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let m: Metadata = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Db(format!("{}: not Trivy metadata: {e}", path.display())))?;
    if m.version != super::SCHEMA_VERSION {
        return Err(Error::Db(format!(
            "{}: Trivy DB schema version {}; Wharf reads version {}",
            path.display(),
            m.version,
            super::SCHEMA_VERSION
        )));
    }
    Ok(m)
}

impl Db {
    /// Imports a Trivy DB. Calls `progress(done, total)` per source bucket.
    pub fn import_trivy(
        &mut self,
        path: &Path,
        warnings: &mut Warnings,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportStats> {
        let (file, meta) = locate(path)?;
        let metadata = match &meta {
            Some(m) => Some(read_metadata(m)?),
            None => {
                warnings.push(format!("no metadata.json beside {}", file.display()));
                None
            }
        };
        let bolt = bolt::open_read(&file)?;
        let tx = self.conn.transaction()?;
        let stats = bolt::guarded(&file, || read_all(&bolt, &tx, warnings, progress))?;
        let updated = metadata
            .map(|m| m.updated_at)
            .filter(|u| model::is_rfc3339(u));
        match updated {
            Some(u) => tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES('updated_at', ?1)",
                params![u],
            )?,
            None => tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES('updated_at', strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
                [],
            )?,
        };
        tx.commit()?;
        Ok(stats)
    }
}

fn read_all(
    bolt: &nut::DB,
    tx: &rusqlite::Transaction<'_>,
    warnings: &mut Warnings,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportStats> {
    let berr = |what: &str, e: nut::Error| Error::Db(format!("trivy.db: {what}: {e}"));
    let rtx = bolt.begin_tx().map_err(|e| berr("transaction", e))?;
    let names = rtx.try_buckets().map_err(|e| berr("listing buckets", e))?;

    let mut sources: BTreeMap<Vec<u8>, DataSource> = BTreeMap::new();
    if let Ok(ds) = rtx.bucket(b"data-source") {
        let c = ds.cursor().map_err(|e| berr("data-source", e))?;
        let mut item = c.first().map_err(|e| berr("data-source", e))?;
        while let (Some(k), Some(v)) = (item.key, item.value) {
            if let Ok(d) = serde_json::from_slice::<DataSource>(v) {
                sources.insert(k.to_vec(), d);
            }
            item = c.next().map_err(|e| berr("data-source", e))?;
        }
    }
    let vulns = rtx.bucket(b"vulnerability").ok();

    let mut ins_adv = tx.prepare(
        "INSERT OR REPLACE INTO advisories(id, source, summary, details, aliases, published, modified, withdrawn, severity,
            cvss_v3_vector, cvss_v3_score, cvss_v4_vector, cvss_v4_score, refs)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    let mut del_aff = tx.prepare("DELETE FROM affected WHERE advisory_id = ?1")?;
    let mut ins_aff = tx.prepare(
        "INSERT INTO affected(advisory_id, ecosystem, package, package_raw, ranges, versions, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;

    let mut stats = ImportStats::default();
    let mut seen: HashSet<String> = HashSet::new();
    let total = names.len() as u64;
    for (i, name) in names.iter().enumerate() {
        progress(i as u64, total);
        let label = String::from_utf8_lossy(name).into_owned();
        if NON_SOURCE_BUCKETS.contains(&label.as_str()) {
            continue;
        }
        let Some(ecosystem) = ecosystem_of(&label) else {
            warnings.push(format!(
                "trivy.db: bucket {label:?}: an ecosystem Wharf does not match; skipped"
            ));
            continue;
        };
        let eco = Ecosystem::from_osv(&ecosystem).map(|(e, _)| e);
        let source = sources
            .get(name)
            .map(|d| d.id.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| label.clone());
        let bucket = rtx.bucket(name).map_err(|e| berr(&label, e))?;
        stats.files += 1;
        let c = bucket.cursor().map_err(|e| berr(&label, e))?;
        let mut item = c.first().map_err(|e| berr(&label, e))?;
        while let Some(pkg_key) = item.key {
            if !item.is_bucket() {
                item = c.next().map_err(|e| berr(&label, e))?;
                continue;
            }
            let pkg = String::from_utf8_lossy(pkg_key).into_owned();
            let pb = bucket
                .try_bucket(pkg_key)
                .map_err(|e| berr(&label, e))?
                .ok_or_else(|| Error::Db(format!("trivy.db: {label}/{pkg}: bucket vanished")))?;
            let pc = pb.cursor().map_err(|e| berr(&label, e))?;
            let mut a = pc.first().map_err(|e| berr(&label, e))?;
            while let (Some(k), Some(v)) = (a.key, a.value) {
                let vid = String::from_utf8_lossy(k).into_owned();
                let at = format!("{label}/{pkg}/{vid}");
                if a.is_bucket() || v.len() > MAX_VALUE {
                    warnings.push(format!("trivy.db: {at}: not an advisory value; skipped"));
                    stats.skipped += 1;
                    a = pc.next().map_err(|e| berr(&label, e))?;
                    continue;
                }
                let parsed = serde_json::from_slice::<Advisory>(v);
                a = pc.next().map_err(|e| berr(&label, e))?;
                let adv = match parsed {
                    Ok(x) => x,
                    Err(e) => {
                        warnings.push(format!("trivy.db: {at}: not a Trivy advisory: {e}"));
                        stats.skipped += 1;
                        continue;
                    }
                };
                for entry in adv.entries() {
                    let affects =
                        if eco.is_some_and(|e| e.is_os()) && entry.vulnerable_versions.is_empty() {
                            let mut r = constraint::Affects::default();
                            let mut events = vec![osv::Event {
                                introduced: Some("0".into()),
                                ..Default::default()
                            }];
                            if !entry.fixed_version.is_empty() {
                                events.push(osv::Event {
                                    fixed: Some(entry.fixed_version.clone()),
                                    ..Default::default()
                                });
                            }
                            r.ranges.push(osv::Range {
                                kind: "ECOSYSTEM".into(),
                                events,
                            });
                            Ok(r)
                        } else {
                            constraint::from_trivy(
                                eco,
                                &entry.vulnerable_versions,
                                &entry.patched_versions,
                                &entry.unaffected_versions,
                            )
                        };
                    let affects = match affects {
                        Ok(x) => x,
                        Err(e) => {
                            warnings.push(format!("trivy.db: {at}: {e}; skipped"));
                            stats.skipped += 1;
                            continue;
                        }
                    };
                    if seen.insert(vid.clone()) {
                        let detail = match &vulns {
                            Some(b) => match b
                                .try_get(k_bytes(&vid))
                                .map_err(|e| berr("vulnerability", e))?
                            {
                                Some(raw) if raw.len() <= MAX_VALUE => serde_json::from_slice::<
                                    Vulnerability,
                                >(
                                    raw
                                )
                                .unwrap_or_else(|e| {
                                    warnings.push(format!("trivy.db: vulnerability/{vid}: {e}"));
                                    Vulnerability::default()
                                }),
                                _ => Vulnerability::default(),
                            },
                            None => Vulnerability::default(),
                        };
                        let row = advisory_row(&vid, &source, &entry, &detail);
                        del_aff.execute(params![vid])?;
                        ins_adv.execute(params![
                            vid,
                            source,
                            detail.title,
                            detail.description,
                            serde_json::to_string(&entry.vendor_ids)?,
                            detail.published_date,
                            detail.last_modified_date,
                            row.severity,
                            row.v3.as_ref().map(|s| &s.vector),
                            row.v3.as_ref().map(|s| s.score),
                            row.v4.as_ref().map(|s| &s.vector),
                            row.v4.as_ref().map(|s| s.score),
                            serde_json::to_string(&row.refs)?,
                        ])?;
                        stats.advisories += 1;
                    }
                    let status = match entry.status {
                        model::Status::NOT_AFFECTED => Some("not_affected"),
                        model::Status::WILL_NOT_FIX => Some("will_not_fix"),
                        model::Status::END_OF_LIFE => Some("end_of_life"),
                        _ => None,
                    };
                    let norm = match eco {
                        Some(e) => e.normalize_name(&pkg),
                        None => pkg.clone(),
                    };
                    ins_aff.execute(params![
                        vid,
                        ecosystem,
                        norm,
                        pkg,
                        serde_json::to_string(&affects.ranges)?,
                        serde_json::to_string(&affects.versions)?,
                        status
                    ])?;
                    stats.affected += 1;
                }
            }
            item = c.next().map_err(|e| berr(&label, e))?;
        }
    }
    progress(total, total);
    Ok(stats)
}

fn k_bytes(s: &str) -> &[u8] {
    s.as_bytes()
}

struct Row {
    severity: String,
    v3: Option<osv::Scored>,
    v4: Option<osv::Scored>,
    refs: Vec<Reference>,
}

/// Wharf's severity rule on Trivy's data: CVSS v3 (the source's own vector, else NVD's,
/// else any), then CVSS v4, then the source's label, the advisory's, the generic one.
fn advisory_row(_vid: &str, source: &str, adv: &Advisory, v: &Vulnerability) -> Row {
    let pick = |f: &dyn Fn(&model::Cvss) -> Option<String>| {
        v.cvss
            .get(source)
            .and_then(f)
            .or_else(|| v.cvss.get("nvd").and_then(f))
            .or_else(|| v.cvss.values().find_map(f))
    };
    let v3 = pick(&|c| c.v3_vector.clone()).and_then(|x| osv::score_v3(&x));
    let v4 = pick(&|c| c.v40_vector.clone()).and_then(|x| osv::score_v4(&x));
    let label = |n: u8| model::SEVERITIES.get(n as usize).map(|s| s.to_string());
    let severity = v3
        .as_ref()
        .map(|s| s.severity.clone())
        .or_else(|| v4.as_ref().map(|s| s.severity.clone()))
        .filter(|s| s != "NONE")
        .or_else(|| v.vendor_severity.get(source).and_then(|n| label(*n)))
        .filter(|s| s != "UNKNOWN")
        .or_else(|| (adv.severity > 0).then(|| label(adv.severity)).flatten())
        .or_else(|| {
            v.severity
                .as_deref()
                .and_then(osv::normalize_severity)
                .map(String::from)
        })
        .unwrap_or_else(|| "UNKNOWN".into());
    let refs = v
        .references
        .iter()
        .map(|u| Reference {
            kind: "WEB".into(),
            url: u.clone(),
        })
        .collect();
    Row {
        severity,
        v3,
        v4,
        refs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::in_range;

    /// A small trivy.db in the layout and JSON trivy-db writes (OS buckets with
    /// `FixedVersion`/`Status`, the `Entries` wrapper, a Ruby advisory with only
    /// `PatchedVersions`, an ecosystem Wharf cannot match, a broken value).
    fn fixture(dir: &Path) -> PathBuf {
        let path = dir.join("trivy.db");
        let w = bolt::Writer::create(&path).unwrap();
        {
            let mut db = w.db.clone().unwrap();
            let mut tx = db.begin_rw_tx().unwrap();
            let put = |tx: &mut nut::RWTxGuard<'_>, b: &str, pkg: &str, k: &str, v: &str| {
                let mut top = tx.create_bucket_if_not_exists(b.as_bytes()).unwrap();
                let nested = top.create_bucket_if_not_exists(pkg.as_bytes()).unwrap();
                nested.put(k.as_bytes(), v.as_bytes().to_vec()).unwrap();
            };
            put(
                &mut tx,
                "debian 12",
                "openssl",
                "CVE-2023-0001",
                r#"{"FixedVersion":"3.0.11-1~deb12u1"}"#,
            );
            put(
                &mut tx,
                "debian 12",
                "openssl",
                "CVE-2023-0002",
                r#"{"Status":5,"Severity":2}"#,
            );
            put(
                &mut tx,
                "debian 12",
                "openssl",
                "CVE-2023-0003",
                r#"{"Status":1}"#,
            );
            put(
                &mut tx,
                "debian 12",
                "openssl",
                "CVE-2023-0004",
                "{not json",
            );
            put(
                &mut tx,
                "alpine 3.19",
                "musl",
                "CVE-2024-0001",
                r#"{"Entries":[{"FixedVersion":"1.2.4_git20230717-r5"}]}"#,
            );
            put(
                &mut tx,
                "rubygems::ruby-advisory-db",
                "actionpack",
                "CVE-2020-8164",
                r#"{"PatchedVersions":["~> 5.2.4, >= 5.2.4.3", ">= 6.0.3.1"]}"#,
            );
            put(
                &mut tx,
                "conan::GitLab Advisory Database Community",
                "zlib",
                "CVE-2018-25032",
                r#"{"VulnerableVersions":["<1.2.12"]}"#,
            );
            {
                let mut v = tx.create_bucket(b"vulnerability").unwrap();
                v.put(
                    b"CVE-2023-0001",
                    br#"{"Title":"t1","Severity":"LOW","VendorSeverity":{"debian":1},"CVSS":{"nvd":{"V3Vector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","V3Score":9.8}},"References":["https://example.org/1"],"PublishedDate":"2023-01-01T00:00:00Z"}"#.to_vec(),
                )
                .unwrap();
                v.put(
                    b"CVE-2023-0002",
                    br#"{"VendorSeverity":{"debian":3}}"#.to_vec(),
                )
                .unwrap();
            }
            {
                let mut d = tx.create_bucket(b"data-source").unwrap();
                d.put(
                    b"debian 12",
                    br#"{"ID":"debian","Name":"Debian Security Tracker"}"#.to_vec(),
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        w.finish().unwrap();
        std::fs::write(dir.join("metadata.json"), r#"{"Version":2,"NextUpdate":"2026-01-02T00:00:00Z","UpdatedAt":"2026-01-01T00:00:00Z"}"#).unwrap();
        path
    }

    fn affected(db: &Db, eco: &str, pkg: &str, e: Ecosystem, v: &str) -> Vec<String> {
        let mut ids: Vec<String> = db
            .lookup(eco, pkg)
            .unwrap()
            .into_iter()
            .filter(|r| r.status.as_deref() != Some("not_affected"))
            .filter(|r| r.ranges.iter().any(|x| in_range(e, x, v).unwrap().0))
            .map(|r| r.advisory.id.clone())
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn trivy_layout_imports_with_each_ecosystems_semantics() {
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path());
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let mut w = Warnings::default();
        let s = db.import_trivy(dir.path(), &mut w, &mut |_, _| {}).unwrap();
        assert_eq!((s.advisories, s.affected, s.skipped), (5, 5, 1), "{w:?}");
        assert!(
            w.messages.iter().any(|m| m.contains("CVE-2023-0004")),
            "{w:?}"
        );
        assert!(w.messages.iter().any(|m| m.contains("conan::")), "{w:?}");

        let d = Ecosystem::Debian;
        assert_eq!(
            affected(&db, "Debian:12", "openssl", d, "3.0.11-1~deb12u0"),
            ["CVE-2023-0001", "CVE-2023-0002"]
        );
        assert_eq!(
            affected(&db, "Debian:12", "openssl", d, "3.0.11-1~deb12u1"),
            ["CVE-2023-0002"]
        );
        let rows = db.lookup("Debian:12", "openssl").unwrap();
        let row = |id: &str| rows.iter().find(|r| r.advisory.id == id).unwrap();
        assert_eq!(row("CVE-2023-0002").status.as_deref(), Some("will_not_fix"));
        assert_eq!(row("CVE-2023-0003").status.as_deref(), Some("not_affected"));
        // CVSS v3 first (9.8 → CRITICAL), as for OSV; else the source's own label.
        assert_eq!(row("CVE-2023-0001").advisory.severity, "CRITICAL");
        assert_eq!(row("CVE-2023-0001").advisory.source, "debian");
        assert_eq!(row("CVE-2023-0002").advisory.severity, "HIGH");
        assert_eq!(
            row("CVE-2023-0001").advisory.references[0].url,
            "https://example.org/1"
        );

        let a = Ecosystem::Alpine;
        assert_eq!(
            affected(&db, "Alpine:v3.19", "musl", a, "1.2.4_git20230717-r4"),
            ["CVE-2024-0001"]
        );
        assert!(affected(&db, "Alpine:v3.19", "musl", a, "1.2.4_git20230717-r5").is_empty());

        let g = Ecosystem::RubyGems;
        for (v, hit) in [
            ("5.2.4.2", true),
            ("5.2.4.3", false),
            ("5.2.9", false),
            ("6.0.3", true),
            ("6.0.3.1", false),
        ] {
            assert_eq!(
                !affected(&db, "RubyGems", "actionpack", g, v).is_empty(),
                hit,
                "{v}"
            );
        }
        let info = db.info().unwrap();
        assert_eq!(info.updated_at.as_deref(), Some("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn other_schema_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path());
        std::fs::write(dir.path().join("metadata.json"), r#"{"Version":1}"#).unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let e = db
            .import_trivy(
                &dir.path().join("trivy.db"),
                &mut Warnings::default(),
                &mut |_, _| {},
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("schema version 1"), "{e}");
        assert_eq!(db.info().unwrap().advisories, 0);
    }
}
