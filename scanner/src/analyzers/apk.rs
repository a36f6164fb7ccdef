//! Alpine packages from `lib/apk/db/installed` (apk's "installed database": one paragraph
//! per package, one-letter keys: `P` name, `V` version, `A` arch, `o` origin, `L` license).

use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Distro, Ecosystem, Package, purl};

pub fn wants(path: &str) -> bool {
    path == "lib/apk/db/installed"
}

pub fn analyze(fs: &ImageFs, distro: Option<&Distro>, _warnings: &mut Warnings) -> Vec<Package> {
    let Some((data, layer)) = fs.read("lib/apk/db/installed") else {
        return vec![];
    };
    let mut out = parse(
        &String::from_utf8_lossy(data),
        fs.layer_digest(layer),
        distro,
    );
    super::attribute_layers(fs, "lib/apk/db/installed", &mut out, |text| {
        parse(text, None, distro)
    });
    out
}

pub fn parse(text: &str, layer: Option<String>, distro: Option<&Distro>) -> Vec<Package> {
    let ns = distro
        .map(|d| d.id.clone())
        .unwrap_or_else(|| "alpine".into());
    let distro_q = distro
        .map(|d| format!("{}-{}", d.id, d.version_id))
        .unwrap_or_default();
    let mut out = Vec::new();
    for par in text.split("\n\n") {
        let (mut name, mut version, mut arch, mut origin, mut license, mut maintainer) =
            (None, None, "", None, None, None);
        for line in par.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k {
                "P" => name = Some(v),
                "V" => version = Some(v),
                "A" => arch = v,
                "o" => origin = Some(v),
                "L" => license = Some(v),
                "m" => maintainer = Some(v).filter(|m| !m.trim().is_empty()),
                _ => {}
            }
        }
        let (Some(name), Some(version)) = (name, version) else {
            continue;
        };
        out.push(Package {
            name: name.into(),
            version: version.into(),
            ecosystem: Ecosystem::Alpine,
            purl: purl(
                Ecosystem::Alpine,
                Some(&ns),
                name,
                version,
                &[("arch", arch), ("distro", &distro_q)],
            ),
            source_name: origin.map(String::from),
            source_version: origin.map(|_| version.to_string()),
            licenses: license.map(|l| vec![l.to_string()]).unwrap_or_default(),
            supplier: maintainer.map(|m| m.trim().to_string()),
            checksums: vec![],
            layer: layer.clone(),
            path: "lib/apk/db/installed".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_installed_db() {
        let t = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\nm:Timo Teräs <timo.teras@iki.fi>\nF:lib\nR:libc.musl-x86_64.so.1\n\nP:busybox-binsh\nV:1.36.1-r5\nA:x86_64\no:busybox\n\n";
        let p = super::parse(t, None, None);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].source_name.as_deref(), Some("busybox"));
        assert_eq!(
            p[0].supplier.as_deref(),
            Some("Timo Teräs <timo.teras@iki.fi>")
        );
        assert_eq!(p[1].supplier, None);
        assert_eq!(p[0].purl, "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64");
    }
}
