//! Ruby gems: installed `specifications/*.gemspec` files (Ruby source written by RubyGems,
//! read here for `s.name`, `s.version` and `s.licenses` without evaluating anything) and
//! `Gemfile.lock` (`specs:` entries indented four spaces: `name (version)`).

use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package, purl};

pub fn wants(path: &str) -> bool {
    (path.ends_with(".gemspec") && path.contains("/specifications/"))
        || path == "Gemfile.lock"
        || path.ends_with("/Gemfile.lock")
}

fn gem(
    name: &str,
    version: &str,
    licenses: Vec<String>,
    layer: Option<String>,
    path: &str,
) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        ecosystem: Ecosystem::RubyGems,
        purl: purl(Ecosystem::RubyGems, None, name, version, &[]),
        source_name: None,
        source_version: None,
        licenses,
        supplier: None,
        checksums: vec![],
        layer,
        path: path.into(),
    }
}

/// The first quoted string after `key` on a line such as `s.name = "rack".freeze`.
fn quoted_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.trim().strip_prefix(key)?;
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix('('))
        .unwrap_or(rest)
        .trim_start();
    let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    rest.find(q).map(|e| &rest[..e])
}

pub fn parse_gemspec(text: &str) -> Option<(String, String, Vec<String>)> {
    let (mut name, mut version, mut lic) = (None, None, Vec::new());
    for line in text.lines() {
        let l = line.trim();
        if name.is_none() {
            name = quoted_after(l, "s.name");
        }
        if version.is_none() {
            version = quoted_after(l, "s.version");
        }
        if let Some(rest) = l
            .strip_prefix("s.licenses = [")
            .or_else(|| l.strip_prefix("s.license = "))
        {
            lic.extend(rest.split(['"', '\'']).skip(1).step_by(2).map(String::from));
        }
    }
    Some((name?.to_string(), version?.to_string(), lic))
}

pub fn parse_gemfile_lock(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_specs = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            in_specs = false;
            continue;
        }
        if line.trim() == "specs:" {
            in_specs = true;
            continue;
        }
        if in_specs
            && line.starts_with("    ")
            && !line.starts_with("     ")
            && let Some((n, v)) = line.trim().split_once(" (")
        {
            let v = v.trim_end_matches(')');
            // platform suffixes: nokogiri (1.15.4-x86_64-linux)
            let v = v.split('-').next().unwrap_or(v);
            out.push((n.to_string(), v.to_string()));
        }
    }
    out
}

pub fn analyze(fs: &ImageFs, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, data, layer) in fs.files() {
        if !wants(path) {
            continue;
        }
        let text = String::from_utf8_lossy(data);
        if path.ends_with(".gemspec") {
            match parse_gemspec(&text) {
                Some((n, v, l)) => out.push(gem(&n, &v, l, fs.layer_digest(layer), path)),
                None => warnings.push(format!("{path}: no name/version in gemspec")),
            }
        } else {
            out.extend(
                parse_gemfile_lock(&text)
                    .into_iter()
                    .map(|(n, v)| gem(&n, &v, vec![], fs.layer_digest(layer), path)),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn gemspec_and_lockfile() {
        let spec = "# -*- encoding: utf-8 -*-\nGem::Specification.new do |s|\n  s.name = \"rack\".freeze\n  s.version = \"2.2.3\"\n  s.licenses = [\"MIT\".freeze]\nend\n";
        assert_eq!(
            super::parse_gemspec(spec),
            Some(("rack".into(), "2.2.3".into(), vec!["MIT".into()]))
        );
        let lock = "GEM\n  remote: https://rubygems.org/\n  specs:\n    actioncable (6.0.0)\n      actionpack (= 6.0.0)\n    nokogiri (1.15.4-x86_64-linux)\n\nPLATFORMS\n  ruby\n";
        assert_eq!(
            super::parse_gemfile_lock(lock),
            vec![
                ("actioncable".into(), "6.0.0".into()),
                ("nokogiri".into(), "1.15.4".into())
            ]
        );
    }
}
