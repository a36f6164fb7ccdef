#!/usr/bin/env bash
# Replication benchmark between two local Wharf servers (loopback only):
#   1. $N images sharing two base layers (8 MiB + 4 MiB) plus one own 256 KiB layer each,
#      pushed to "dev";
#   2. a push-based replication policy copies them to "dst" (first run: everything;
#      second run: nothing new);
#   3. `skopeo sync` of the same set between the same two servers (into another
#      project), run the same way twice.
# Targets: the first replication at least as fast as skopeo sync; a second run with
# nothing new under 1 s.
# Uses target/release/wharf when built, else target/debug/wharf ($WHARF_BIN overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50}
PW=bench-Password-1
BIN=${WHARF_BIN:-target/release/wharf}
[ -x "$BIN" ] || BIN=target/debug/wharf
[ -x "$BIN" ] || { echo "build wharf first (cargo build --release)" >&2; exit 2; }
for tool in curl python3 skopeo sha256sum; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install curl python3 skopeo)" >&2; exit 2; }
done

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 400); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
digest() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }

start() { # name -> host
  local port; port=$(free_port)
  "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$tmp/$1" --admin-password "$PW" >/dev/null 2>"$tmp/$1.log" &
  pids+=($!)
  wait_for "http://127.0.0.1:$port/v2/"
  echo "127.0.0.1:$port"
}
DEV=$(start dev)
DST=$(start dst)
api() { curl -fsS -u "admin:$PW" -H 'Content-Type: application/json' "$@"; }
api -X POST "http://$DEV/api/v2.0/projects" -d '{"project_name":"bench"}'
api -X POST "http://$DST/api/v2.0/projects" -d '{"project_name":"skopeo"}'

put_blob() { # repo file
  curl -fsS -o /dev/null -u "admin:$PW" -X POST --data-binary "@$2" -H 'Content-Type: application/octet-stream' \
    "http://$DEV/v2/$1/blobs/uploads/?digest=$(digest "$2")"
}
head -c $((8 << 20)) /dev/urandom >"$tmp/base1"
head -c $((4 << 20)) /dev/urandom >"$tmp/base2"
layer() { echo "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$(digest "$1")\",\"size\":$(stat -c%s "$1")}"; }
echo "pushing $N images to dev ($DEV)..."
for i in $(seq -w 1 "$N"); do
  repo=bench/img$i
  head -c $((256 << 10)) /dev/urandom >"$tmp/own"
  printf '{"architecture":"amd64","os":"linux","n":"%s"}' "$i" >"$tmp/config"
  for f in base1 base2 own config; do put_blob "$repo" "$tmp/$f"; done
  cat >"$tmp/manifest" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$(digest "$tmp/config")","size":$(stat -c%s "$tmp/config")},"layers":[$(layer "$tmp/base1"),$(layer "$tmp/base2"),$(layer "$tmp/own")]}
EOF
  curl -fsS -o /dev/null -u "admin:$PW" -X PUT --data-binary "@$tmp/manifest" \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "http://$DEV/v2/$repo/manifests/v1"
done

loc() { sed -n 's/^[Ll]ocation: .*\/\([0-9]*\)\r\{0,1\}$/\1/p'; }
REG=$(api -D - -o /dev/null -X POST "http://$DEV/api/v2.0/registries" \
  -d "{\"name\":\"dst\",\"url\":\"http://$DST\",\"type\":\"harbor\",\"credential\":{\"type\":\"basic\",\"access_key\":\"admin\",\"access_secret\":\"$PW\"}}" | loc)
POLICY=$(api -D - -o /dev/null -X POST "http://$DEV/api/v2.0/replication/policies" \
  -d "{\"name\":\"bench\",\"dest_registry\":{\"id\":$REG},\"filters\":[{\"type\":\"name\",\"value\":\"bench/**\"}]}" | loc)

replicate() {
  local id status
  id=$(api -D - -o /dev/null -X POST "http://$DEV/api/v2.0/replication/executions" -d "{\"policy_id\":$POLICY}" | loc)
  while :; do
    status=$(api "http://$DEV/api/v2.0/replication/executions/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    [ "$status" = InProgress ] || break
    sleep 0.05
  done
  if [ "$status" != Succeed ]; then
    echo "replication $id: $status" >&2
    # the first failed task's log says why
    api "http://$DEV/api/v2.0/replication/executions/$id/tasks?page_size=100" | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["status"] != "Succeed":
        print(t["id"], t["status"], t.get("src_resource"), file=sys.stderr)
        print(t["id"])
        break' | while read -r task; do api "http://$DEV/api/v2.0/replication/executions/$id/tasks/$task/log" >&2; done
    exit 1
  fi
}
t0=$(now); replicate; t1=$(now); replicate; t2=$(now)

python3 - "$DEV" "$PW" "$N" >"$tmp/sync.yaml" <<'EOF'
import sys
host, pw, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
print(f"{host}:\n  tls-verify: false\n  credentials:\n    username: admin\n    password: {pw}\n  images:")
for i in range(1, n + 1):
    print(f"    bench/img{i:0{len(str(n))}d}: [v1]")
EOF
sync() {
  skopeo sync --scoped=false --src yaml --dest docker --dest-tls-verify=false --dest-creds "admin:$PW" \
    "$tmp/sync.yaml" "$DST/skopeo" >"$tmp/skopeo.log" 2>&1 || { cat "$tmp/skopeo.log" >&2; exit 1; }
}
t3=$(now); sync; t4=$(now); sync; t5=$(now)

echo "images: $N (shared 12 MiB base + 256 KiB own layer each), wharf: $BIN"
echo "wharf replication, first run:      $(secs "$t0" "$t1") s"
echo "wharf replication, nothing new:    $(secs "$t1" "$t2") s"
echo "skopeo sync, first run:            $(secs "$t3" "$t4") s"
echo "skopeo sync, nothing new:          $(secs "$t4" "$t5") s"
