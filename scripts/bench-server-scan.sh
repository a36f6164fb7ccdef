#!/usr/bin/env bash
# Time of a scan inside `wharf serve` (scan on push) for each test image, read from the
# server's own log line ("scanned … ms=…"), next to `wharf scan` of the same OCI layout.
# Prints figures; asserts nothing. Usage: scripts/bench-server-scan.sh [WHARF_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF="${1:-${WHARF_BIN:-}}"
if [[ -z "$WHARF" ]]; then
  if [[ -x target/release/wharf ]]; then WHARF=target/release/wharf; else WHARF=target/debug/wharf; fi
fi
WHARF="$(realpath "$WHARF")"
IMAGES="$(realpath "${WHARF_TEST_IMAGES:-target/test-images}")"
VULNDATA="$(realpath "${WHARF_VULNDATA:-../shared/vulndata}")"
TMP="$(mktemp -d)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PW=Bench12345
"$WHARF" db import osv --db "$TMP/vuln.db" "$VULNDATA/pypa/vulns" "$VULNDATA/go/data/osv" "$VULNDATA/rustsec/crates" >/dev/null 2>&1
WHARF_ADMIN_PASSWORD=$PW WHARF_LOG=info "$WHARF" serve --listen "127.0.0.1:$PORT" --data-dir "$TMP/data" --vuln-db "$TMP/vuln.db" >/dev/null 2>"$TMP/serve.log" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/")" = 401 ] && break; sleep 0.1; done
curl -sf -u "admin:$PW" -H 'Content-Type: application/json' -d '{"project_name":"bench","metadata":{"auto_scan":"true"}}' \
  "http://127.0.0.1:$PORT/api/v2.0/projects" >/dev/null
echo "wharf: $WHARF   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for img in debian:bookworm-minbase pyapp:v1; do
  name="${img%%:*}" tag="${img#*:}"
  skopeo copy -q --dest-tls-verify=false --dest-creds "admin:$PW" "oci:$IMAGES/oci/$name:$tag" "docker://127.0.0.1:$PORT/bench/$name:$tag"
  for _ in $(seq 600); do grep -q "repository=bench/$name.*scanned\|scanned.*repository=bench/$name" "$TMP/serve.log" && break; sleep 0.1; done
  line=$(grep "scanned" "$TMP/serve.log" | grep "bench/$name" | tail -1)
  ms=$(sed -n 's/.*ms=\([0-9]*\).*/\1/p' <<<"$line")
  total=$(sed -n 's/.*total=\([0-9]*\).*/\1/p' <<<"$line")
  start=$(date +%s.%N); "$WHARF" scan --db "$TMP/vuln.db" --format json "oci:$IMAGES/oci/$name:$tag" >/dev/null 2>&1; end=$(date +%s.%N)
  printf '%-26s server scan %6s ms (%s findings)   wharf scan CLI %6.0f ms\n' "$img" "$ms" "$total" "$(echo "($end - $start) * 1000" | bc -l)"
done
