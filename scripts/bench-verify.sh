#!/usr/bin/env bash
# Latency of `wharf verify` end to end (process start, registry round trips, 10
# signature checks) against a local `wharf serve`: median and p90 of N runs.
# Prints figures; asserts nothing. Usage: scripts/bench-verify.sh [RUNS] [WHARF_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-30}"
WHARF="${2:-${WHARF_BIN:-}}"
if [[ -z "$WHARF" ]]; then
  if [[ -x target/release/wharf ]]; then WHARF=target/release/wharf; else WHARF=target/debug/wharf; fi
fi
WHARF="$(realpath "$WHARF")"
IMAGES="${WHARF_TEST_IMAGES:-target/test-images}"
IMAGES="$(realpath "$IMAGES")"
TMP="$(mktemp -d)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$WHARF" serve --auth=false --listen "127.0.0.1:$PORT" --data-dir "$TMP/data" >"$TMP/serve.log" 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done
IMAGE="127.0.0.1:$PORT/library/small:v1"
skopeo copy -q --dest-tls-verify=false "oci:$IMAGES/oci/small:v1" "docker://$IMAGE"
cd "$TMP"
export COSIGN_PASSWORD=bench
"$WHARF" key generate >/dev/null 2>&1
for i in $(seq 10); do "$WHARF" sign --insecure --key cosign.key -a "n=$i" "$IMAGE" >/dev/null 2>&1; done
echo "wharf: $WHARF"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WHARF" "$IMAGE" "$RUNS" <<'PY'
import statistics, subprocess, sys, time, json
wharf, image, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
cmd = [wharf, "verify", "--insecure", "--key", "cosign.pub", image]
out = subprocess.run(cmd, capture_output=True, check=True).stdout
n = len(json.loads(out))
ts = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    ts.append((time.perf_counter() - t) * 1000)
ts.sort()
print(f"wharf verify, {n} signatures, {runs} runs: median {statistics.median(ts):.1f} ms, "
      f"p90 {ts[int(runs * 0.9) - 1]:.1f} ms, min {ts[0]:.1f} ms")
PY
