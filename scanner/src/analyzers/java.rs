//! Java archives (JAR/WAR/EAR and nested jars, e.g. Spring Boot's `BOOT-INF/lib/`):
//! `META-INF/maven/G/A/pom.properties` gives Maven coordinates; without one, `MANIFEST.MF`
//! (`Implementation-*`, `Bundle-*`) and the file name are the fallback. Read while the layer
//! streams; only the coordinates (and the archive's SHA-1, as Maven Central lists it) are
//! kept.

use std::io::{Cursor, Read};

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// Maven coordinates; the group is empty when only a manifest was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Coord {
    pub group: String,
    pub artifact: String,
    pub version: String,
    /// SHA-1 (hex) of the archive, when this package is the only one it describes (a
    /// shaded jar's other `pom.properties` are not that archive).
    pub sha1: Option<String>,
}

impl Coord {
    fn new(group: String, artifact: String, version: String) -> Coord {
        Coord {
            group,
            artifact,
            version,
            sha1: None,
        }
    }
}

pub fn is_archive(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".jar", ".war", ".ear", ".jpi", ".hpi"]
        .iter()
        .any(|e| lower.ends_with(e))
}

fn properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            l.split_once(['=', ':'])
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Coordinates of the archive `data` (named `name`) and of the jars nested in it.
pub fn inspect(name: &str, data: &[u8], depth: usize, out: &mut Vec<Coord>) {
    let Ok(mut z) = zip::ZipArchive::new(Cursor::new(data)) else {
        return;
    };
    let mut found_pom = false;
    let first = out.len();
    let mut manifest = None;
    let mut nested: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..z.len().min(100_000) {
        let Ok(mut e) = z.by_index(i) else { continue };
        let Ok(ename) = e.name().map(|n| n.to_string()) else {
            continue;
        };
        let size = e.size();
        if ename.starts_with("META-INF/maven/")
            && ename.ends_with("/pom.properties")
            && size < 1 << 20
        {
            let mut s = String::new();
            if e.read_to_string(&mut s).is_ok() {
                let p = properties(&s);
                let get = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
                if let (Some(g), Some(a), Some(v)) =
                    (get("groupId"), get("artifactId"), get("version"))
                {
                    out.push(Coord::new(g, a, v));
                    found_pom = true;
                }
            }
        } else if ename == "META-INF/MANIFEST.MF" && size < 1 << 20 {
            let mut s = String::new();
            if e.read_to_string(&mut s).is_ok() {
                manifest = Some(s);
            }
        } else if depth < 3 && is_archive(&ename) && size < 64 << 20 {
            let mut b = Vec::with_capacity(size as usize);
            if e.take(64 << 20).read_to_end(&mut b).is_ok() {
                nested.push((ename, b));
            }
        }
    }
    if !found_pom {
        let p = manifest.as_deref().map(properties).unwrap_or_default();
        let get = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let file = name.rsplit('/').next().unwrap_or(name);
        let stem = file.rsplit_once('.').map(|x| x.0).unwrap_or(file);
        // name-1.2.3.jar: the version starts at the first "-digit"
        let from_name = stem
            .find(|c: char| c.is_ascii_digit())
            .filter(|&i| i > 0 && stem.as_bytes()[i - 1] == b'-')
            .map(|i| (&stem[..i - 1], &stem[i..]));
        let artifact = get("Implementation-Title")
            .or_else(|| get("Bundle-SymbolicName"))
            .or_else(|| from_name.map(|x| x.0.to_string()));
        let version = get("Implementation-Version")
            .or_else(|| get("Bundle-Version"))
            .or_else(|| from_name.map(|x| x.1.to_string()));
        if let (Some(a), Some(v)) = (artifact, version) {
            let group = get("Implementation-Vendor-Id").unwrap_or_default();
            out.push(Coord::new(
                group,
                a.split(';').next().unwrap_or(&a).to_string(),
                v,
            ));
        }
    }
    if out.len() == first + 1 {
        out[first].sha1 = Some(hex::encode(Sha1::digest(data)));
    }
    for (n, b) in nested {
        inspect(&n, &b, depth + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    fn jar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (n, d) in files {
            w.start_file(
                *n,
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored),
            )
            .unwrap();
            w.write_all(d).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn pom_properties_manifest_and_nested_jars() {
        let inner = jar(&[(
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            b"groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n",
        )]);
        let noinfo = jar(&[("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n")]);
        let outer = jar(&[
            (
                "META-INF/MANIFEST.MF",
                b"Implementation-Title: app\nImplementation-Version: 1.0\n",
            ),
            ("BOOT-INF/lib/log4j-core-2.14.1.jar", &inner),
            ("BOOT-INF/lib/commons-text-1.9.jar", &noinfo),
        ]);
        let mut out = vec![];
        super::inspect("app.jar", &outer, 0, &mut out);
        out.sort();
        let coords: Vec<(&str, &str, &str)> = out
            .iter()
            .map(|c| (c.group.as_str(), c.artifact.as_str(), c.version.as_str()))
            .collect();
        assert_eq!(
            coords,
            vec![
                ("", "app", "1.0"),
                ("", "commons-text", "1.9"),
                ("org.apache.logging.log4j", "log4j-core", "2.14.1")
            ]
        );
        // Each archive's own SHA-1.
        use sha1::{Digest, Sha1};
        let sha1 = |b: &[u8]| Some(hex::encode(Sha1::digest(b)));
        assert_eq!(out[0].sha1, sha1(&outer));
        assert_eq!(out[1].sha1, sha1(&noinfo));
        assert_eq!(out[2].sha1, sha1(&inner));
        // A shaded jar with two poms: the archive is neither package's.
        let pom = |a: &str| format!("groupId=g\nartifactId={a}\nversion=1\n");
        let shaded = jar(&[
            ("META-INF/maven/g/a/pom.properties", pom("a").as_bytes()),
            ("META-INF/maven/g/b/pom.properties", pom("b").as_bytes()),
        ]);
        let mut out = vec![];
        super::inspect("shaded.jar", &shaded, 0, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|c| c.sha1.is_none()));
        super::inspect("x.jar", b"PK\x03\x04garbage", 0, &mut out);
    }
}
