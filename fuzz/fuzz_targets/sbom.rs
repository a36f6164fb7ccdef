//! SBOMs from any tool, as `wharf scan sbom:` and the policy engine read them: SPDX 2.x JSON
//! and CycloneDX JSON detected and turned back into an inventory, and package URLs on their
//! own. An inventory read from a document must name every package.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_sbom::read::{Purl, parse_bytes, to_inventory};

fuzz_target!(|data: &[u8]| {
    if let Ok((format, doc)) = parse_bytes(data)
        && let Ok(inv) = to_inventory(format, &doc)
    {
        for p in &inv.packages {
            assert!(!p.name.is_empty(), "a package without a name");
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(p) = Purl::parse(text)
    {
        let _ = p.ecosystem();
        let _ = p.package_name();
        let _ = p.qualifier("distro");
    }
});
