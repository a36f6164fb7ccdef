#!/usr/bin/env bash
# Times importing every folder of ../shared/vulndata into one fresh DB, the way a first
# start without network would: OSV (PyPA, Go, RustSec, Debian DSA/DLA/DTSA/CVE, AlmaLinux)
# in one `db import osv`, then Alpine's secdb. Target: under 30 s in total (release build).
# Prints wall time and peak RSS per step and the total; asserts nothing.
# Usage: scripts/bench-db-import.sh [WHARF_BIN]   (default: release build if present)
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF="${1:-${WHARF_BIN:-}}"
if [[ -z "$WHARF" ]]; then
  if [[ -x target/release/wharf ]]; then WHARF=target/release/wharf; else WHARF=target/debug/wharf; fi
fi
VULNDATA="${WHARF_VULNDATA:-${WHARF_SHARED:-../shared}/vulndata}"
[[ -d "$VULNDATA/debian" ]] || { echo "advisory data missing at $VULNDATA (set WHARF_VULNDATA)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "GNU time missing (apt-get install time)" >&2; exit 1; }
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT

total=0
measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$TMP/time" "$@" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err" >&2; return 1; }
  read -r secs kib <"$TMP/time"
  total=$(echo "$total + $secs" | bc -l)
  printf '%-44s %8.2f s %8.1f MiB   %s\n' "$label" "$secs" "$(echo "$kib / 1024" | bc -l)" "$(tail -1 "$TMP/out")"
}

echo "wharf: $WHARF"
measure "db import osv (every OSV folder)" "$WHARF" db import osv --db "$TMP/all.db" \
  "$VULNDATA/pypa/vulns" "$VULNDATA/go/data/osv" "$VULNDATA/rustsec/crates" \
  "$VULNDATA/debian" "$VULNDATA/almalinux/advisories"
measure "db import alpine-secdb (every release)" "$WHARF" db import alpine-secdb --db "$TMP/all.db" "$VULNDATA/alpine"
printf '%-44s %8.2f s   (%s)\n' "total" "$total" "$(du -h "$TMP/all.db" | cut -f1) DB"
