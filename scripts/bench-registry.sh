#!/usr/bin/env bash
# Wharf vs the reference registry (CNCF Distribution 2.8, Debian's docker-registry),
# side by side, in one run, on this machine:
#   1. manifest GET by tag, 32 concurrent connections (wrk): requests/s and p99
#   2. a 256 MiB blob: upload (POST + PATCH + PUT) and download, MB/s
#   3. 100 small images pushed with skopeo, one repository each
#   4. peak RSS of each server while a 1 GiB blob is uploaded (fresh processes)
#   5. Wharf with --auth: manifest GET with a bearer token, against (1) without auth
# Usage: scripts/bench-registry.sh   (needs: wrk skopeo docker-registry curl; builds --release)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${WHARF_SHARED:-$(cd .. && pwd)/shared}
IMAGES=${WHARF_TEST_IMAGES:-$ROOT/target/test-images}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
for t in wrk skopeo docker-registry curl; do command -v $t >/dev/null || { echo "missing $t (apt-get install wrk skopeo docker-registry curl)" >&2; exit 1; }; done
[ -f "$IMAGES/oci/small/index.json" ] || SKIP_DEBIAN=1 bash "$SHARED/testing/make-test-images.sh" "$IMAGES" >&2
cargo build --release --quiet
WHARF=$ROOT/target/release/wharf
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/v2/" >/dev/null && return 0; sleep 0.1; done; echo "port $1 did not come up" >&2; exit 1; }

start_wharf() { # port dir
  WHARF_LOG=warn "$WHARF" serve --auth=false --listen "127.0.0.1:$1" --data-dir "$2" >"$2.log" 2>&1 &
  PIDS+=($!); LAST_PID=$!; wait_up "$1"
}
start_reference() { # port dir
  local out; out=$(bash "$SHARED/testing/reference-registry.sh" "$1" "$2" 2>/dev/null)
  LAST_PID=${out##*PID=}; PIDS+=("$LAST_PID"); wait_up "$1"
}

peak_rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

blob_upload() { # port repo file digest -> seconds
  local loc t
  loc=$(curl -si -X POST "http://127.0.0.1:$1/v2/$2/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  case "$loc" in http*) ;; *) loc="http://127.0.0.1:$1$loc";; esac
  t0=$(date +%s.%N)
  loc=$(curl -si -X PATCH -H 'Content-Type: application/octet-stream' -T "$3" "$loc" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  case "$loc" in http*) ;; *) loc="http://127.0.0.1:$1$loc";; esac
  case "$loc" in *\?*) sep='&';; *) sep='?';; esac
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$loc${sep}digest=$4")
  t1=$(date +%s.%N)
  [ "$code" = 201 ] || { echo "upload to $1 failed: $code" >&2; exit 1; }
  echo "$t1 - $t0" | bc -l
}

echo "preparing blobs..." >&2
head -c $((256 << 20)) /dev/urandom >"$WORK/blob256"
D256=sha256:$(sha256sum "$WORK/blob256" | cut -d' ' -f1)
head -c $((1024 << 20)) /dev/urandom >"$WORK/blob1g"
D1G=sha256:$(sha256sum "$WORK/blob1g" | cut -d' ' -f1)

declare -A R
for who in wharf reference; do
  port=$(free_port); dir=$WORK/$who; mkdir -p "$dir"
  if [ $who = wharf ]; then start_wharf "$port" "$dir/data"; else start_reference "$port" "$dir"; fi
  pid=$LAST_PID
  echo "[$who] manifest GET (wrk, 32 connections, ${DURATION}s)" >&2
  skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$IMAGES/oci/small:v1" "docker://127.0.0.1:$port/library/bench:v1"
  out=$(wrk -t2 -c32 -d"${DURATION}s" --latency -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "http://127.0.0.1:$port/v2/library/bench/manifests/v1")
  R[$who.rps]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  R[$who.p99]=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); [ -z "$non2xx" ] || { echo "[$who] $non2xx non-2xx answers" >&2; exit 1; }

  echo "[$who] 256 MiB blob up and down (best of $REPEAT)" >&2
  best_up=0; best_down=0
  for i in $(seq "$REPEAT"); do
    up=$(blob_upload "$port" "library/blob$i" "$WORK/blob256" "$D256")
    best_up=$(echo "u=256/$up; if (u > $best_up) u else $best_up" | bc -l)
    down=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/v2/library/blob$i/blobs/$D256")
    best_down=$(echo "d=256/$down; if (d > $best_down) d else $best_down" | bc -l)
  done
  R[$who.up]=$(printf '%.0f' "$best_up")
  R[$who.down]=$(printf '%.0f' "$best_down")

  echo "[$who] 100 small images with skopeo" >&2
  t0=$(date +%s.%N)
  for i in $(seq 1 100); do
    skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$IMAGES/oci/small:v1" "docker://127.0.0.1:$port/bench/img$i:v1"
  done
  R[$who.push100]=$(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.1f')
  kill "$pid"; wait "$pid" 2>/dev/null || true

  echo "[$who] peak RSS during a 1 GiB upload (fresh process)" >&2
  port=$(free_port); dir=$WORK/$who-rss; mkdir -p "$dir"
  if [ $who = wharf ]; then start_wharf "$port" "$dir/data"; else start_reference "$port" "$dir"; fi
  blob_upload "$port" library/big "$WORK/blob1g" "$D1G" >/dev/null
  R[$who.rss]=$(peak_rss_mib "$LAST_PID")
  kill "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
done

echo "[wharf --auth] manifest GET with a bearer token" >&2
port=$(free_port); dir=$WORK/wharf-auth; mkdir -p "$dir"
WHARF_ADMIN_PASSWORD=Bench12345 WHARF_LOG=warn "$WHARF" serve --auth --listen "127.0.0.1:$port" --data-dir "$dir" >"$dir.log" 2>&1 &
PIDS+=($!); apid=$!
for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/")" = 401 ] && break; sleep 0.1; done
skopeo --insecure-policy copy -q --dest-tls-verify=false --dest-creds admin:Bench12345 "oci:$IMAGES/oci/small:v1" "docker://127.0.0.1:$port/library/bench:v1"
TOKEN=$(curl -s "http://127.0.0.1:$port/service/token?service=wharf&scope=repository:library/bench:pull" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
out=$(wrk -t2 -c32 -d"${DURATION}s" --latency -H 'Accept: application/vnd.oci.image.manifest.v1+json' -H "Authorization: Bearer $TOKEN" \
      "http://127.0.0.1:$port/v2/library/bench/manifests/v1")
non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); [ -z "$non2xx" ] || { echo "[auth] $non2xx non-2xx answers" >&2; exit 1; }
R[auth.rps]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
R[auth.p99]=$(awk '$1=="99%" {print $2}' <<<"$out")
kill "$apid"; wait "$apid" 2>/dev/null || true

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
printf '\n%-34s %14s %14s %8s\n' "measure" "wharf" "reference" "ratio"
printf '%-34s %14s %14s %8s\n' "manifest GET, requests/s" "${R[wharf.rps]}" "${R[reference.rps]}" "$(ratio "${R[wharf.rps]}" "${R[reference.rps]}")"
printf '%-34s %14s %14s\n' "manifest GET, p99 latency" "${R[wharf.p99]}" "${R[reference.p99]}"
printf '%-34s %14s %14s %8s\n' "256 MiB upload, MB/s" "${R[wharf.up]}" "${R[reference.up]}" "$(ratio "${R[wharf.up]}" "${R[reference.up]}")"
printf '%-34s %14s %14s %8s\n' "256 MiB download, MB/s" "${R[wharf.down]}" "${R[reference.down]}" "$(ratio "${R[wharf.down]}" "${R[reference.down]}")"
printf '%-34s %14s %14s %8s\n' "100 images with skopeo, seconds" "${R[wharf.push100]}" "${R[reference.push100]}" "$(ratio "${R[reference.push100]}" "${R[wharf.push100]}")"
printf '%-34s %14s %14s\n' "peak RSS, 1 GiB upload, MiB" "${R[wharf.rss]}" "${R[reference.rss]}"
printf '\n%-34s %14s %14s %8s\n' "wharf: token auth vs none" "with token" "no auth" "ratio"
printf '%-34s %14s %14s %8s\n' "manifest GET, requests/s" "${R[auth.rps]}" "${R[wharf.rps]}" "$(ratio "${R[auth.rps]}" "${R[wharf.rps]}")"
printf '%-34s %14s %14s\n' "manifest GET, p99 latency" "${R[auth.p99]}" "${R[wharf.p99]}"
