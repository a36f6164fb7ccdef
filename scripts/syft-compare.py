#!/usr/bin/env python3
"""Compare Wharf's package inventory with Syft's for one image.

usage: syft-compare.py SYFT_JSON WHARF_JSON [--min-coverage 0.99]

SYFT_JSON:  `syft scan IMAGE -o syft-json`
WHARF_JSON: `wharf scan --list-packages --format json IMAGE`
Packages are compared as (ecosystem, name, version) with each ecosystem's own name rule
(PEP 503 for Python). Only ecosystems Wharf covers are counted. Exit 1 when Wharf finds
fewer than --min-coverage of Syft's packages.
"""
import json
import re
import sys

# syft artifact type -> wharf result Type(s)
SYFT_TYPES = {
    "deb": "os", "apk": "os", "rpm": "os",
    "python": "python", "npm": "npm", "go-module": "go", "rust-crate": "cargo",
}
WHARF_TYPES = {
    "debian": "os", "ubuntu": "os", "alpine": "os", "python-pkg": "python", "node-pkg": "npm", "npm": "npm",
    "gobinary": "go", "cargo": "cargo", "rustbinary": "cargo",
}


def norm(eco, name):
    if eco == "python":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


def main():
    args = sys.argv[1:]
    min_cov = 0.99
    if "--min-coverage" in args:
        i = args.index("--min-coverage")
        min_cov = float(args[i + 1])
        del args[i:i + 2]
    syft_doc = json.load(open(args[0]))
    wharf_doc = json.load(open(args[1]))
    syft = set()
    for a in syft_doc.get("artifacts", []):
        eco = SYFT_TYPES.get(a["type"])
        if eco:
            syft.add((eco, norm(eco, a["name"]), a["version"]))
    wharf = set()
    for r in wharf_doc.get("Results", []):
        eco = WHARF_TYPES.get(r["Type"])
        if eco is None and r["Class"] == "os-pkgs":
            eco = "os"
        for p in r.get("Packages", []):
            wharf.add((eco, norm(eco, p["Name"]), p["Version"]))
    both = syft & wharf
    cov = len(both) / len(syft) if syft else 1.0
    print(f"syft: {len(syft)} packages, wharf: {len(wharf)}, common: {len(both)}, coverage of syft: {cov:.2%}")
    for p in sorted(syft - wharf):
        print(f"  only syft:  {p}")
    for p in sorted(wharf - syft):
        print(f"  only wharf: {p}")
    if cov < min_cov:
        print(f"FAIL: coverage {cov:.2%} < {min_cov:.0%}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
