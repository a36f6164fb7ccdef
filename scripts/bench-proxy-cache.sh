#!/usr/bin/env bash
# Proxy cache: pull a large image through a proxy cache project the first time
# (from a Distribution 2.8 upstream, streamed while stored) and a second time (from
# the cache, the upstream stopped), with skopeo; reports both times and the peak
# resident memory of `wharf serve` after the first pull, which stays far below the
# blob's size because blobs are streamed, never held whole (the second pull reads the
# cached blob through a memory map: file-backed pages, reported apart).
#
# Usage: scripts/bench-proxy-cache.sh [SIZE_MIB]   (default 512)
# Needs: docker-registry, apache2-utils, skopeo, curl, jq, bc; a built target/debug/wharf
# (or WHARF_BIN).
set -euo pipefail

SIZE_MIB="${1:-512}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WHARF="${WHARF_BIN:-$ROOT/target/debug/wharf}"
SHARED="${WHARF_SHARED:-$ROOT/../shared}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP_PORT="$(free_port)"
UP_PID="$("$SHARED/testing/reference-registry.sh" "$UP_PORT" "$WORK/upstream" "" | sed -n 's/^PID=//p')"
PIDS+=("$UP_PID")
UP="http://127.0.0.1:$UP_PORT"

push_blob() { # file → digest
  local file="$1" digest loc
  digest="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
  loc="$(curl -sf -D - -o /dev/null -X POST "$UP/v2/big/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')"
  [[ "$loc" == http* ]] || loc="$UP$loc"
  [[ "$loc" == *\?* ]] && sep='&' || sep='?'
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$file" "$loc${sep}digest=$digest" >/dev/null
  echo "$digest"
}

head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$WORK/layer"
printf '{"architecture":"amd64","os":"linux"}' >"$WORK/config"
LAYER="$(push_blob "$WORK/layer")"
CONFIG="$(push_blob "$WORK/config")"
jq -n --arg c "$CONFIG" --arg l "$LAYER" --argjson cs "$(stat -c %s "$WORK/config")" --argjson ls "$(stat -c %s "$WORK/layer")" \
  '{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
    config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$c, size:$cs},
    layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar", digest:$l, size:$ls}]}' >"$WORK/manifest.json"
curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary "@$WORK/manifest.json" "$UP/v2/big/manifests/v1" >/dev/null

W_PORT="$(free_port)"
"$WHARF" serve --listen "127.0.0.1:$W_PORT" --data-dir "$WORK/wharf" --admin-password bench-Pass-1 2>"$WORK/wharf.log" &
W_PID=$!
PIDS+=("$W_PID")
for _ in $(seq 1 100); do [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$W_PORT/v2/")" == 401 ]] && break; sleep 0.1; done
W="http://127.0.0.1:$W_PORT"
curl -sf -u admin:bench-Pass-1 -X POST -H 'Content-Type: application/json' \
  -d "{\"name\":\"up\",\"url\":\"$UP\",\"type\":\"docker-registry\"}" "$W/api/v2.0/registries" >/dev/null
curl -sf -u admin:bench-Pass-1 -X POST -H 'Content-Type: application/json' \
  -d '{"project_name":"cache","registry_id":1,"metadata":{"public":"true"}}' "$W/api/v2.0/projects" >/dev/null

pull() { # dir → seconds
  rm -rf "$1"
  local t0 t1
  t0="$(date +%s.%N)"
  skopeo copy --quiet --src-tls-verify=false "docker://127.0.0.1:$W_PORT/cache/big:v1" "dir:$1"
  t1="$(date +%s.%N)"
  echo "$t1 - $t0" | bc
}

FIRST="$(pull "$WORK/first")"
for _ in $(seq 1 600); do
  curl -sf -u admin:bench-Pass-1 "$W/api/v2.0/projects/cache/repositories/big/artifacts/v1" >/dev/null && break; sleep 0.1
done
PEAK_FIRST_KIB="$(sed -n 's/^VmHWM:\s*\([0-9]*\) kB/\1/p' "/proc/$W_PID/status")"
kill "$UP_PID"; sleep 0.5
SECOND="$(pull "$WORK/second")"
cmp -s "$WORK/layer" "$WORK/second/${LAYER#sha256:}" || { echo "cached layer differs" >&2; exit 1; }
ANON_KIB="$(sed -n 's/^RssAnon:\s*\([0-9]*\) kB/\1/p' "/proc/$W_PID/status")"

echo "image: one ${SIZE_MIB} MiB layer"
echo "first pull (fetched from the upstream, streamed while stored): ${FIRST} s"
echo "second pull (from the cache, upstream stopped):                ${SECOND} s"
echo "wharf serve peak RSS after the first pull: $((PEAK_FIRST_KIB / 1024)) MiB"
echo "wharf serve anonymous RSS after both (cached blobs are served from a memory map, file-backed): $((ANON_KIB / 1024)) MiB"
