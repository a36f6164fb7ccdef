//! `wharf db export trivy DIR`: Wharf's DB as `DIR/trivy.db` + `DIR/metadata.json` in
//! Trivy's layout, so the real Trivy scans with Wharf's data (`--cache-dir` with `db/`, or
//! pulled as Trivy's DB artifact). Advisories are keyed by the id Wharf reports
//! ([`crate::matcher::display_id`]); two advisories for one id and package are merged (their
//! ranges are alternatives), as Wharf's matcher reports such a pair once.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::model::{self, Advisory, Cvss, DataSource, Metadata, Vulnerability};
use super::{Bucket, bolt, bucket_for, constraint, source_name, trivy_pkg_name};
use crate::db::Db;
use crate::db::osv::{Range, Reference};
use crate::inventory::Ecosystem;
use crate::matcher::display_id;
use crate::{Error, Result, Warnings};

#[derive(Debug, Default, Clone, Serialize)]
pub struct ExportStats {
    pub buckets: u64,
    pub packages: u64,
    pub advisories: u64,
    pub vulnerabilities: u64,
    pub skipped: u64,
}

type Tree = BTreeMap<String, BTreeMap<String, BTreeMap<String, Advisory>>>;

impl Db {
    /// Writes `dir/trivy.db` and `dir/metadata.json` (each to a temporary name, then renamed).
    pub fn export_trivy(&self, dir: &Path, warnings: &mut Warnings) -> Result<ExportStats> {
        let mut stats = ExportStats::default();
        let mut tree: Tree = BTreeMap::new();
        let mut vulns: BTreeMap<String, Vulnerability> = BTreeMap::new();
        let mut sources: BTreeMap<String, DataSource> = BTreeMap::new();
        let mut st = self.conn.prepare(
            "SELECT a.id, a.source, a.summary, a.details, a.aliases, a.published, a.modified, a.severity,
                    a.cvss_v3_vector, a.cvss_v3_score, a.cvss_v4_vector, a.cvss_v4_score, a.refs,
                    f.ecosystem, f.package_raw, f.ranges, f.versions, f.status
             FROM affected f JOIN advisories a ON a.id = f.advisory_id
             WHERE a.withdrawn IS NULL ORDER BY f.ecosystem, f.package, a.id",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let source: String = r.get(1)?;
            let ecosystem: String = r.get(13)?;
            let pkg_raw: String = r.get(14)?;
            let status: Option<String> = r.get(17)?;
            if status.as_deref() == Some("not_affected") {
                continue;
            }
            let Some(bucket) = bucket_for(&ecosystem) else {
                stats.skipped += 1;
                continue;
            };
            let aliases: Vec<String> =
                serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default();
            let ranges: Vec<Range> =
                serde_json::from_str(&r.get::<_, String>(15)?).unwrap_or_default();
            let versions: Vec<String> =
                serde_json::from_str(&r.get::<_, String>(16)?).unwrap_or_default();
            let eco = Ecosystem::from_osv(&ecosystem).map(|(e, _)| e);
            let adv_stub = crate::db::Advisory {
                id: id.clone(),
                source: source.clone(),
                summary: None,
                details: None,
                aliases: aliases.clone(),
                published: None,
                modified: None,
                severity: String::new(),
                cvss_v3: None,
                cvss_v4: None,
                references: Vec::new(),
            };
            let vid = display_id(&adv_stub);
            let (bucket_name, prefix) = match &bucket {
                Bucket::Os(name) => (name.clone(), None),
                Bucket::Lang(p) => (format!("{p}::{}", source_name(&source, p)), Some(p.clone())),
            };
            let mut adv = Advisory {
                vendor_ids: std::iter::once(&id)
                    .chain(aliases.iter())
                    .filter(|x| **x != vid)
                    .cloned()
                    .collect(),
                ..Default::default()
            };
            match status.as_deref() {
                Some("will_not_fix") => adv.status = model::Status::WILL_NOT_FIX,
                Some("end_of_life") => adv.status = model::Status::END_OF_LIFE,
                _ => {}
            }
            match prefix {
                None => match os_fixed_version(eco, &ranges, &versions) {
                    Some(fixed) => {
                        if fixed.is_empty() && adv.status == 0 {
                            adv.status = model::Status::AFFECTED;
                        }
                        adv.fixed_version = fixed;
                    }
                    None => {
                        warnings.push(format!(
                            "{id} ({ecosystem} {pkg_raw}): ranges other than 'fixed in' cannot be written for an OS package; skipped"
                        ));
                        stats.skipped += 1;
                        continue;
                    }
                },
                Some(_) => {
                    let (vv, pv) = constraint::to_trivy(eco, &ranges, &versions);
                    if vv.is_empty() {
                        stats.skipped += 1;
                        continue;
                    }
                    adv.vulnerable_versions = vv;
                    adv.patched_versions = pv;
                }
            }
            sources
                .entry(bucket_name.clone())
                .or_insert_with(|| DataSource {
                    id: source.clone(),
                    name: bucket_name
                        .split_once("::")
                        .map(|(_, n)| n.to_string())
                        .unwrap_or_else(|| source.clone()),
                    url: String::new(),
                });
            let pkg = trivy_pkg_name(&ecosystem, &pkg_raw);
            let slot = tree.entry(bucket_name).or_default().entry(pkg).or_default();
            match slot.get_mut(&vid) {
                Some(prev) => merge(prev, adv),
                None => {
                    slot.insert(vid.clone(), adv);
                }
            }
            if let std::collections::btree_map::Entry::Vacant(e) = vulns.entry(vid) {
                e.insert(vulnerability(r, &source)?);
            }
        }
        drop(rows);
        drop(st);

        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let w = bolt::Writer::create(&dir.join("trivy.db"))?;
        {
            let mut db = w.db.clone().expect("open");
            let berr = |e: nut::Error| Error::Db(format!("writing trivy.db: {e}"));
            let mut tx = db.begin_rw_tx().map_err(berr)?;
            for (bname, pkgs) in &tree {
                let mut b = tx.create_bucket(bname.as_bytes()).map_err(berr)?;
                stats.buckets += 1;
                for (pkg, advs) in pkgs {
                    let pb = b.create_bucket(pkg.as_bytes()).map_err(berr)?;
                    stats.packages += 1;
                    for (vid, a) in advs {
                        pb.put(vid.as_bytes(), serde_json::to_vec(a)?)
                            .map_err(berr)?;
                        stats.advisories += 1;
                    }
                }
            }
            {
                let mut vb = tx.create_bucket(b"vulnerability").map_err(berr)?;
                for (vid, v) in &vulns {
                    vb.put(vid.as_bytes(), serde_json::to_vec(v)?)
                        .map_err(berr)?;
                    stats.vulnerabilities += 1;
                }
            }
            {
                let mut db_ = tx.create_bucket(b"data-source").map_err(berr)?;
                for (name, d) in &sources {
                    db_.put(name.as_bytes(), serde_json::to_vec(d)?)
                        .map_err(berr)?;
                }
            }
            tx.commit().map_err(berr)?;
        }
        w.finish()?;

        let (now, next): (String, String) = self.conn.query_row(
            "SELECT strftime('%Y-%m-%dT%H:%M:%SZ','now'), strftime('%Y-%m-%dT%H:%M:%SZ','now','+1 day')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let updated = self
            .info()?
            .updated_at
            .filter(|u| model::is_rfc3339(u))
            .unwrap_or_else(|| now.clone());
        let meta = Metadata {
            version: super::SCHEMA_VERSION,
            next_update: next,
            updated_at: updated,
            downloaded_at: Some(now),
        };
        write_atomic(&dir.join("metadata.json"), &serde_json::to_vec(&meta)?)?;
        Ok(stats)
    }
}

/// Writes a small file under a temporary name, then renames it.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let res = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// An OS advisory's `FixedVersion`: `Some("")` when all versions are affected, `None` when
/// the ranges say more than "fixed in X" (Trivy's OS detectors read nothing else).
fn os_fixed_version(
    eco: Option<Ecosystem>,
    ranges: &[Range],
    versions: &[String],
) -> Option<String> {
    let real: Vec<&Range> = ranges.iter().filter(|r| r.kind != "GIT").collect();
    let fixed = match real.as_slice() {
        [] if versions.is_empty() => return Some(String::new()),
        [r] => match r.events.as_slice() {
            [i] if i.introduced.as_deref() == Some("0") => String::new(),
            [i, f] if i.introduced.as_deref() == Some("0") && f.fixed.is_some() => {
                f.fixed.clone()?
            }
            _ => return None,
        },
        _ => return None,
    };
    // Distro records (osv.dev's Debian ones) also list the affected versions they know of,
    // all inside the range: then the range alone says it. A listed version outside it
    // would be lost, so such a record is not written.
    let covered = |v: &String| {
        fixed.is_empty()
            || eco.and_then(|e| crate::versions::compare(e, v, &fixed))
                == Some(std::cmp::Ordering::Less)
    };
    versions.iter().all(covered).then_some(fixed)
}

/// Two advisories for one package under one id: either's ranges make a version vulnerable.
fn merge(prev: &mut Advisory, next: Advisory) {
    for v in next.vulnerable_versions {
        if !prev.vulnerable_versions.contains(&v) {
            prev.vulnerable_versions.push(v);
        }
    }
    for v in next.patched_versions {
        if !prev.patched_versions.contains(&v) {
            prev.patched_versions.push(v);
        }
    }
    for v in next.vendor_ids {
        if !prev.vendor_ids.contains(&v) {
            prev.vendor_ids.push(v);
        }
    }
    if prev.fixed_version.is_empty() && !next.fixed_version.is_empty() {
        prev.fixed_version = next.fixed_version;
        prev.status = 0;
    }
}

/// The `vulnerability` bucket's value from an advisory row (columns as selected above).
fn vulnerability(r: &rusqlite::Row<'_>, source: &str) -> Result<Vulnerability> {
    let severity: String = r.get(7)?;
    let refs: Vec<Reference> = serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or_default();
    let cvss = Cvss {
        v3_vector: r.get(8)?,
        v3_score: r.get(9)?,
        v40_vector: r.get(10)?,
        v40_score: r.get(11)?,
        ..Default::default()
    };
    let date = |i: usize| -> Result<Option<String>> {
        Ok(r.get::<_, Option<String>>(i)?
            .filter(|d| model::is_rfc3339(d)))
    };
    let mut v = Vulnerability {
        title: r.get::<_, Option<String>>(2)?.filter(|s| !s.is_empty()),
        description: r.get::<_, Option<String>>(3)?.filter(|s| !s.is_empty()),
        severity: Some(severity.clone()),
        references: refs.into_iter().map(|x| x.url).collect(),
        published_date: date(5)?,
        last_modified_date: date(6)?,
        ..Default::default()
    };
    v.vendor_severity
        .insert(source.to_string(), model::severity_number(&severity));
    if cvss != Cvss::default() {
        v.cvss.insert(source.to_string(), cvss);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::osv::Event;

    #[test]
    fn os_ranges_that_trivy_can_read() {
        let r = |evs: Vec<Event>| Range {
            kind: "ECOSYSTEM".into(),
            events: evs,
        };
        let i0 = Event {
            introduced: Some("0".into()),
            ..Default::default()
        };
        let f = Event {
            fixed: Some("2.36-9+deb12u4".into()),
            ..Default::default()
        };
        assert_eq!(
            os_fixed_version(None, &[r(vec![i0.clone(), f.clone()])], &[]).as_deref(),
            Some("2.36-9+deb12u4")
        );
        assert_eq!(
            os_fixed_version(None, &[r(vec![i0.clone()])], &[]).as_deref(),
            Some("")
        );
        let i1 = Event {
            introduced: Some("2.0".into()),
            ..Default::default()
        };
        assert_eq!(os_fixed_version(None, &[r(vec![i1, f.clone()])], &[]), None);
        // osv.dev's Debian records list the versions they know inside the range: fine;
        // one outside it (by dpkg's ordering: ~ sorts first, so deb12u4~1 < deb12u4)
        // cannot be said with FixedVersion.
        let deb = Some(Ecosystem::Debian);
        let listed = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let both = [r(vec![i0.clone(), f.clone()])];
        assert_eq!(
            os_fixed_version(deb, &both, &listed(&["2.36-9", "2.36-9+deb12u4~1"])).as_deref(),
            Some("2.36-9+deb12u4")
        );
        assert_eq!(
            os_fixed_version(deb, &both, &listed(&["2.36-9+deb12u5"])),
            None
        );
        assert_eq!(
            os_fixed_version(deb, &[r(vec![i0])], &listed(&["1:1.3.dfsg-3.1~exp1"])).as_deref(),
            Some("")
        );
    }
}
