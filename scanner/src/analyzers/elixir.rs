//! Elixir's `mix.lock`: an Elixir map literal, one dependency per line,
//! `"name": {:hex, :name, "1.2.3", "sha", [:mix], [...], "hexpm", "sha"},`. Only Hex
//! packages carry a version; `:git` dependencies are left out (as Trivy does).

use super::lang_package;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package};

pub fn wants(path: &str) -> bool {
    path == "mix.lock" || path.ends_with("/mix.lock")
}

/// `  "phoenix": {:hex, :phoenix, "1.7.10", …` → (phoenix, 1.7.10).
fn entry(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start().strip_prefix('"')?;
    let (_, rest) = rest.split_once("\": {:hex, :")?;
    let (package, rest) = rest.split_once(", \"")?;
    let version = rest.split('"').next()?;
    Some((package.trim_matches('"'), version))
}

pub fn analyze(fs: &ImageFs) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, data, layer) in fs.files().filter(|(p, _, _)| wants(p)) {
        for line in String::from_utf8_lossy(data).lines() {
            if let Some((name, version)) = entry(line) {
                out.push(lang_package(
                    fs,
                    Ecosystem::Hex,
                    None,
                    name,
                    version,
                    path,
                    layer,
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_entries_are_read_and_git_ones_skipped() {
        assert_eq!(
            super::entry(
                r#"  "plug": {:hex, :plug, "1.15.2", "02731fa0", [:mix], [], "hexpm", "8a1b"},"#
            ),
            Some(("plug", "1.15.2"))
        );
        assert_eq!(
            super::entry(r#"  "dep": {:git, "https://github.com/a/b.git", "a1b2", []},"#),
            None
        );
    }
}
