#!/usr/bin/env bash
# Admission webhook benchmark against a local Wharf registry (loopback only):
#   1. reviews per second for a Deployment whose tag is in the digest cache
#      (ab, keep-alive, concurrency $C, $N requests, over HTTPS);
#   2. latency of reviews whose tag is NOT cached ($UNCACHED distinct tags, one
#      at a time with curl): each needs a manifest GET against the registry.
# Targets: >= 2000 reviews/s cached; p99 < 100 ms uncached.
# Uses target/release/wharf when built, else target/debug/wharf ($WHARF_BIN overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
C=${C:-16}
UNCACHED=${UNCACHED:-300}
BIN=${WHARF_BIN:-target/release/wharf}
[ -x "$BIN" ] || BIN=target/debug/wharf
[ -x "$BIN" ] || { echo "build wharf first (cargo build --release)" >&2; exit 2; }
for tool in ab curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install apache2-utils curl openssl python3)" >&2; exit 2; }
done

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 200); do curl -fsk -o /dev/null "$1" && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }

# Registry with one image under $UNCACHED + 1 tags.
RP=$(free_port)
REG=127.0.0.1:$RP
"$BIN" serve --listen "$REG" --data-dir "$tmp/data" 2>"$tmp/registry.log" &
pids+=($!)
wait_for "http://$REG/v2/"
printf '{"architecture":"amd64","os":"linux","bench":true}' >"$tmp/config"
printf 'bench layer' >"$tmp/layer"
digest() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
for f in config layer; do
  curl -fsS -o /dev/null -X POST --data-binary "@$tmp/$f" -H 'Content-Type: application/octet-stream' \
    "http://$REG/v2/bench/app/blobs/uploads/?digest=$(digest "$tmp/$f")"
done
cat >"$tmp/manifest" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$(digest "$tmp/config")","size":$(stat -c%s "$tmp/config")},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$(digest "$tmp/layer")","size":$(stat -c%s "$tmp/layer")}]}
EOF
for tag in 1.0 $(seq -f 'u%g' 1 "$UNCACHED"); do
  [ "$tag" = 1.0 ] || echo 'next'
  echo "url = \"http://$REG/v2/bench/app/manifests/$tag\""
  echo 'request = "PUT"'
  echo 'header = "Content-Type: application/vnd.oci.image.manifest.v1+json"'
  echo "data-binary = \"@$tmp/manifest\""
  echo 'output = "/dev/null"'
  echo 'fail'
done >"$tmp/push.curl"
curl -sS -K "$tmp/push.curl"

# Webhook over HTTPS.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=bench \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/tls.key" -out "$tmp/tls.crt" 2>/dev/null
AP=$(free_port)
HOOK=https://127.0.0.1:$AP
"$BIN" admission serve --listen "127.0.0.1:$AP" --tls-cert "$tmp/tls.crt" --tls-key "$tmp/tls.key" \
  --insecure-registry "$REG" --allow-registry "$REG" 2>"$tmp/admission.log" &
pids+=($!)
wait_for "$HOOK/healthz"

sed "s#wharf.test:5000/team/app:1.0#$REG/bench/app:1.0#" tests/fixtures/admission/deployment.json >"$tmp/cached.json"
answer=$(curl -fsS --cacert "$tmp/tls.crt" -H 'Content-Type: application/json' --data-binary "@$tmp/cached.json" "$HOOK/validate")
echo "$answer" | grep -q '"allowed":true' || { echo "warm-up review not allowed: $answer" >&2; exit 1; }

echo "== cached digest: $N reviews, concurrency $C, keep-alive (ab) =="
ab -q -k -n "$N" -c "$C" -p "$tmp/cached.json" -T application/json "$HOOK/validate" >"$tmp/ab.txt"
grep -E 'Complete requests|Failed requests|Non-2xx|Requests per second|Time per request.*\(mean\)' "$tmp/ab.txt"
grep -A12 'Percentage of the requests' "$tmp/ab.txt" | grep -E ' (50|99|100)%'

echo "== uncached tags: $UNCACHED reviews, one at a time (curl) =="
: >"$tmp/times"
for i in $(seq 1 "$UNCACHED"); do
  sed "s#bench/app:1.0#bench/app:u$i#" "$tmp/cached.json" >"$tmp/u.json"
  # No `Expect: 100-continue`: the API server sends the body at once.
  curl -sS -o "$tmp/u.out" --cacert "$tmp/tls.crt" -H 'Content-Type: application/json' -H 'Expect:' \
    --data-binary "@$tmp/u.json" -w '%{time_total} %{time_appconnect}\n' "$HOOK/mutate" >>"$tmp/times"
  grep -q '"allowed":true' "$tmp/u.out" || { echo "uncached review $i not allowed: $(cat "$tmp/u.out")" >&2; exit 1; }
done
python3 - "$tmp/times" <<'EOF'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000
total = [r[0] for r in rows]
server = [r[0] - r[1] for r in rows]   # after the TLS handshake: request, review (registry GET included), response
for name, xs in (("whole request incl. TCP+TLS handshake", total), ("review after the TLS handshake (what a kept-alive API server connection sees)", server)):
    print(f"{name}: p50 {pct(xs, 50):.1f} ms  p99 {pct(xs, 99):.1f} ms  max {max(xs) * 1000:.1f} ms")
EOF
grep -c '"admission decision"\|admission decision' "$tmp/admission.log" | sed 's/^/decisions logged: /'
echo "binary: $BIN"
