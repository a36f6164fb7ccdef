#!/usr/bin/env bash
# Wharf audits its own supply chain with its own tools:
#
#  1. vulnerabilities: RustSec's advisories (OSV files under
#     $WHARF_SHARED/vulndata/rustsec/crates) imported with `wharf db import osv`, then
#     `wharf scan` of Cargo.lock (a directory holding a copy of it: the cargo_lock
#     analyzer). Every finding fails the audit unless audit/allow.toml lists its
#     advisory for that crate, with a reason and an expiry date not yet past.
#  2. the SBOM: `wharf sbom` of the same lock file, SPDX 2.3 JSON, kept in the output.
#  3. licences: `cargo metadata` gives each dependency's declared licence (Cargo.lock
#     has none); they become a policy facts document that `wharf policy check --facts`
#     judges against audit/licenses.yaml (an allow-list written in Rego).
#  4. the binary: with --binary, `wharf scan` of a built `wharf` too; a release built
#     with `cargo auditable build --release` carries its dependency list, so what is
#     scanned is what shipped.
#
# What `cargo deny` would add: checks of duplicate versions and banned crates, source
# restrictions (only crates.io, no git), a licence clarification database for crates
# whose metadata is wrong, and nested SPDX expressions read exactly. Wharf's own checks
# cover advisories (with expiring exceptions), licences and the SBOM without it.
#
# usage: scripts/self-audit.sh [--lock FILE] [--allow FILE] [--binary FILE] [--out DIR]
#                              [--skip-licenses]
# env:   WHARF (the wharf binary; default target/release/wharf, else target/debug/wharf),
#        WHARF_SHARED (default ../shared beside the repository), AUDIT_TODAY (YYYY-MM-DD,
#        for tests of expiry; default today, UTC)
# exit:  0 clean, 1 a finding or licence not allowed, 2 the audit could not run
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
lock="$root/Cargo.lock"
allow="$root/audit/allow.toml"
binary=""
out="$root/target/self-audit"
licenses=1
while [ $# -gt 0 ]; do
    case "$1" in
        --lock) lock="$2"; shift 2 ;;
        --allow) allow="$2"; shift 2 ;;
        --binary) binary="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --skip-licenses) licenses=0; shift ;;
        *) echo "self-audit: unknown argument $1" >&2; exit 2 ;;
    esac
done

wharf="${WHARF:-}"
if [ -z "$wharf" ]; then
    if [ -x "$root/target/release/wharf" ]; then wharf="$root/target/release/wharf"; else wharf="$root/target/debug/wharf"; fi
fi
[ -x "$wharf" ] || { echo "self-audit: no wharf binary at $wharf (build it, or set WHARF)" >&2; exit 2; }
shared="${WHARF_SHARED:-$root/../shared}"
advisories="$shared/vulndata/rustsec/crates"
[ -d "$advisories" ] || { echo "self-audit: no RustSec advisories at $advisories" >&2; exit 2; }
[ -f "$lock" ] || { echo "self-audit: no lock file $lock" >&2; exit 2; }

mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
cp "$lock" "$work/src/Cargo.lock"

echo "== vulnerabilities (RustSec) in $lock"
"$wharf" db import --db "$work/vuln.db" osv "$advisories" >&2
scans=("dir:$work/src")
if [ -n "$binary" ]; then
    mkdir "$work/bin"
    cp "$binary" "$work/bin/"
    scans+=("dir:$work/bin")
fi
i=0
for target in "${scans[@]}"; do
    "$wharf" scan --db "$work/vuln.db" --format json -o "$work/scan-$i.json" "$target"
    i=$((i + 1))
done

failed=0
rc=0
python3 - "$allow" "${AUDIT_TODAY:-}" "$work"/scan-*.json <<'EOF' || rc=$?
import datetime
import json
import sys
import tomllib

allow_file, today, reports = sys.argv[1], sys.argv[2], sys.argv[3:]
today = datetime.date.fromisoformat(today) if today else datetime.datetime.now(datetime.timezone.utc).date()
with open(allow_file, "rb") as f:
    entries = tomllib.load(f).get("allow", [])
for e in entries:
    missing = [k for k in ("id", "crate", "reason", "expires") if not str(e.get(k, "")).strip()]
    if missing:
        print(f"{allow_file}: entry {e.get('id', '?')} lacks {', '.join(missing)}", file=sys.stderr)
        sys.exit(2)
    e["expires"] = datetime.date.fromisoformat(str(e["expires"]))

findings = []
for path in reports:
    with open(path) as f:
        report = json.load(f)
    for result in report.get("Results") or []:
        for v in result.get("Vulnerabilities") or []:
            findings.append(v)

bad = 0
used = set()
for v in findings:
    # Reports name the CVE when there is one; the RustSec ID is among the vendor IDs.
    ids = {v["VulnerabilityID"], *(v.get("VendorIDs") or []), *(v.get("Aliases") or [])}
    rustsec = sorted(i for i in ids if i.startswith("RUSTSEC-"))
    others = [i for i in sorted(ids) if i not in rustsec]
    name = " ".join(rustsec or others) + (f" ({', '.join(others)})" if rustsec and others else "")
    crate, version = v["PkgName"], v["InstalledVersion"]
    fixed = v.get("FixedVersion") or "no fixed version"
    entry = next((e for e in entries if e["id"] in ids and e["crate"] == crate), None)
    if entry and entry["expires"] >= today:
        used.add(entry["id"])
        print(f"allowed: {name} in {crate} {version} until {entry['expires']}: {entry['reason']}")
        continue
    bad += 1
    why = f" (its allow-list entry expired on {entry['expires']})" if entry else ""
    print(f"VULNERABLE: {name} in {crate} {version} (fixed: {fixed}): {v.get('Title', '')}{why}")
for e in entries:
    if e["id"] not in used:
        print(f"note: allow-list entry {e['id']} ({e['crate']}) matched no finding; remove it", file=sys.stderr)
print(f"{len(findings)} finding(s), {bad} not allowed")
sys.exit(1 if bad else 0)
EOF
case "$rc" in
    0) ;;
    1) failed=1 ;;
    *) echo "self-audit: could not judge the findings" >&2; exit 2 ;;
esac

echo "== SBOM"
"$wharf" sbom --format spdx-json -o "$out/wharf.spdx.json" "dir:$work/src"
echo "SBOM: $out/wharf.spdx.json ($(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["packages"]))' "$out/wharf.spdx.json") packages)"

if [ "$licenses" = 1 ]; then
    echo "== licences"
    (cd "$root" && cargo metadata --format-version 1 --locked) > "$work/metadata.json"
    python3 - "$work/metadata.json" "$lock" > "$out/license-facts.json" <<'EOF'
import hashlib
import json
import sys

meta = json.load(open(sys.argv[1]))
digest = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
packages = []
for p in sorted(meta["packages"], key=lambda p: (p["name"], p["version"])):
    licenses = [p["license"]] if p.get("license") else []
    packages.append({
        "name": p["name"],
        "version": p["version"],
        "purl": f"pkg:cargo/{p['name']}@{p['version']}",
        "licenses": licenses,
        "source": "cargo-metadata",
    })
print(json.dumps({
    "reference": "cargo/wharf",
    "registry": "cargo",
    "repository": "wharf",
    "digest": f"sha256:{digest}",
    "sbom": {"present": True, "format": "cargo-metadata", "source": "cargo-metadata", "packages": packages},
}, indent=1))
EOF
    "$wharf" policy check --policy "$root/audit/licenses.yaml" --facts "$out/license-facts.json" || failed=1
fi

if [ "$failed" = 1 ]; then
    echo "self-audit: FAILED" >&2
    exit 1
fi
echo "self-audit: passed"
