//! The distribution, from `os-release(5)` with the older release files as fallbacks.

use crate::image::ImageFs;
use crate::inventory::Distro;

pub fn wants(path: &str) -> bool {
    matches!(
        path,
        "etc/os-release"
            | "usr/lib/os-release"
            | "etc/alpine-release"
            | "etc/debian_version"
            | "etc/redhat-release"
    )
}

/// Parses `KEY=value` lines; values may be quoted with `"` or `'` and use `\` escapes.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = if v.len() >= 2
            && (v.starts_with('"') && v.ends_with('"') || v.starts_with('\'') && v.ends_with('\''))
        {
            let inner = &v[1..v.len() - 1];
            let mut s = String::new();
            let mut esc = false;
            for c in inner.chars() {
                if esc {
                    s.push(c);
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else {
                    s.push(c);
                }
            }
            s
        } else {
            v.to_string()
        };
        out.push((k.trim().to_string(), v));
    }
    out
}

pub fn detect(fs: &ImageFs) -> Option<Distro> {
    let text = fs
        .read("etc/os-release")
        .or_else(|| fs.read("usr/lib/os-release"))
        .map(|(d, _)| String::from_utf8_lossy(d).into_owned());
    if let Some(text) = text {
        let kv = parse(&text);
        let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        if let Some(id) = get("ID") {
            let mut version_id = get("VERSION_ID").unwrap_or_default();
            // Debian testing/sid have no VERSION_ID; debian_version says e.g. "trixie/sid".
            if version_id.is_empty()
                && id == "debian"
                && let Some((d, _)) = fs.read("etc/debian_version")
            {
                version_id = String::from_utf8_lossy(d).trim().to_string();
            }
            // Alpine's VERSION_ID is the full release (3.18.4); keep it.
            return Some(Distro {
                id,
                version_id,
                version_codename: get("VERSION_CODENAME"),
                pretty_name: get("PRETTY_NAME"),
            });
        }
    }
    if let Some((d, _)) = fs.read("etc/alpine-release") {
        return Some(Distro {
            id: "alpine".into(),
            version_id: String::from_utf8_lossy(d).trim().into(),
            ..Default::default()
        });
    }
    if let Some((d, _)) = fs.read("etc/debian_version") {
        return Some(Distro {
            id: "debian".into(),
            version_id: String::from_utf8_lossy(d).trim().into(),
            ..Default::default()
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoting() {
        let kv = parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n# c\nVERSION_ID='12'\nX=\"a\\\"b\"\n",
        );
        assert_eq!(
            kv[0],
            (
                "PRETTY_NAME".into(),
                "Debian GNU/Linux 12 (bookworm)".into()
            )
        );
        assert_eq!(kv[1], ("ID".into(), "debian".into()));
        assert_eq!(kv[2], ("VERSION_ID".into(), "12".into()));
        assert_eq!(kv[3], ("X".into(), "a\"b".into()));
    }
}
