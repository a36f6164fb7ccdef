#!/usr/bin/env bash
# Soak test: `wharf serve` (authentication on, scan on push) under a sustained mixed load
# from scripts/soak.py: pushes, pulls with digests checked, tag deletes, API listings,
# token requests, manual GC. RSS, descriptors, threads and WAL size sampled every second;
# zero 5xx and every image whose tag was not deleted pullable in full at the end.
#
# usage: scripts/soak.sh [SECONDS]      default 600 (the benchmark)
#        scripts/soak.sh --ci           60 seconds (what scripts/test.sh runs)
# env:   WHARF (binary; default target/release/wharf, else target/debug/wharf),
#        WHARF_SHARED (RustSec advisories for the scan DB), SOAK_OUT (default target/soak)
# out:   $SOAK_OUT/samples.csv, summary.json, soak.png (matplotlib), wharf.log
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
seconds=600
case "${1:-}" in
    --ci) seconds=60 ;;
    "") ;;
    *) seconds="$1" ;;
esac
wharf="${WHARF:-}"
if [ -z "$wharf" ]; then
    if [ -x "$root/target/release/wharf" ]; then wharf="$root/target/release/wharf"; else wharf="$root/target/debug/wharf"; fi
fi
out="${SOAK_OUT:-$root/target/soak}"
shared="${WHARF_SHARED:-$root/../shared}"
mkdir -p "$out"
work="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password="soak-$RANDOM-$RANDOM"
"$wharf" db import --db "$work/vuln.db" osv "$shared/vulndata/rustsec/crates" >/dev/null
"$wharf" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --auth \
    --admin-password "$password" --vuln-db "$work/vuln.db" --gc-grace-period 0 \
    > /dev/null 2> "$out/wharf.log" &
pid=$!
for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$port/livez" && break
    sleep 0.1
done
curl -sf -u "admin:$password" -H 'Content-Type: application/json' \
    -d '{"project_name":"soak","metadata":{"public":"false","auto_scan":"true"}}' \
    "http://127.0.0.1:$port/api/v2.0/projects" > /dev/null

echo "soak: ${seconds}s against wharf (pid $pid) on 127.0.0.1:$port"
python3 "$root/scripts/soak.py" "http://127.0.0.1:$port" "$pid" "$work/data" "$seconds" "$out" admin "$password"
