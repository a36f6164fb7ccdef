//! CPE 2.3 formatted strings (NISTIR 7695 §6.2) for packages.
//!
//! Where no vendor is known, vendor and product are both the package name: the same guess
//! Syft and Trivy make, which is what NVD matching of most OS and language packages uses.

use wharf_scanner::inventory::Package;

/// Quotes a value for the formatted-string binding: alphanumerics, `_`, `-` and `.` stay,
/// every other printable character is escaped with `\`.
fn quote(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_graphic() {
            out.push('\\');
            out.push(c);
        } else {
            // Non-ASCII or whitespace: not expressible, use `_` as NVD does for spaces.
            out.push('_');
        }
    }
    out
}

/// `cpe:2.3:a:VENDOR:PRODUCT:VERSION:*:*:*:*:*:*:*`, or `None` without name or version.
pub fn for_package(p: &Package) -> Option<String> {
    let name = p.name.rsplit('/').next().unwrap_or(&p.name);
    if name.is_empty() || p.version.is_empty() {
        return None;
    }
    let (vendor, product) = (quote(name), quote(name));
    Some(format!(
        "cpe:2.3:a:{vendor}:{product}:{}:*:*:*:*:*:*:*",
        quote(&p.version)
    ))
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting_follows_the_formatted_string_rules() {
        assert_eq!(quote("2.36-9+deb12u4"), "2.36-9\\+deb12u4");
        assert_eq!(quote("1:2.3~rc1"), "1\\:2.3\\~rc1");
        assert_eq!(quote("Django"), "django");
    }
}
