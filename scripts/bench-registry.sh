#!/usr/bin/env bash
# Wharf vs the reference registry (CNCF Distribution 2.8, Debian's docker-registry),
# side by side, in one run, on this machine:
#   1. manifest GET by tag, 32 concurrent connections (wrk): requests/s and p99
#   2. a 1 GiB blob, each measure on a fresh server process (MB/s and its peak RSS),
#      REPEAT times, Wharf and the reference taking turns (median, min-max):
#      monolithic upload (POST, then PUT ?digest= with the body, curl -T),
#      chunked upload (POST, PATCH chunks of CHUNK_MIB with Content-Range, PUT),
#      download (GET), then the same GET twice more (page cache warm); beside the machine's limits, measured first in the same run:
#      `openssl speed -evp sha256` (the hashing limit the issue sets every upload
#      against), the sha2 crate Wharf hashes with, receiving over loopback (curl -T
#      to scripts/http-sink.py), and writing 1 GiB to the servers' disk with dd:
#      buffered, buffered + fsync, O_DIRECT; from the first two, the fastest any
#      server that hashes what it receives could take an upload on this machine's
#      cores (the transport's and the hash's CPU, nothing else); and the
#      CPU a monolithic PUT cost the server and curl, with the fastest an upload
#      could go at that CPU if it kept every core busy
#   3. 100 small images pushed with skopeo, one repository each
#   4. Wharf with --auth: manifest GET with a bearer token, against (1) without auth
# Usage: scripts/bench-registry.sh   (needs: wrk skopeo docker-registry curl openssl; builds --release)
#   CHUNK_MIB=256  chunk size of the chunked upload; BLOB_ONLY=1 runs (2) only;
#   REPEAT=3 runs of each blob measure; WHARF_BIN=PATH measures that wharf binary
#   instead of building one; BASELINE_BIN=PATH also measures that wharf binary (e.g. an
#   older build) in the blob rounds, taking turns with the others, as a third column
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${WHARF_SHARED:-$(cd .. && pwd)/shared}
IMAGES=${WHARF_TEST_IMAGES:-$ROOT/target/test-images}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
CHUNK_MIB=${CHUNK_MIB:-256}
for t in wrk skopeo docker-registry curl openssl; do command -v $t >/dev/null || { echo "missing $t (apt-get install wrk skopeo docker-registry curl)" >&2; exit 1; }; done
[ -f "$IMAGES/oci/small/index.json" ] || SKIP_DEBIAN=1 bash "$SHARED/testing/make-test-images.sh" "$IMAGES" >&2
# WHARF_BIN=path: measure that binary (e.g. an older build) instead of building.
[ -n "${WHARF_BIN:-}" ] || cargo build --release --quiet --bin wharf
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/v2/" >/dev/null && return 0; sleep 0.1; done; echo "port $1 did not come up" >&2; exit 1; }

start_wharf() { # port dir [binary]
  WHARF_LOG=warn "${3:-$WHARF}" serve --auth=false --listen "127.0.0.1:$1" --data-dir "$2" >"$2.log" 2>&1 &
  PIDS+=($!); LAST_PID=$!; wait_up "$1"
}
start_reference() { # port dir
  local out; out=$(bash "$SHARED/testing/reference-registry.sh" "$1" "$2" 2>/dev/null)
  LAST_PID=${out##*PID=}; PIDS+=("$LAST_PID"); wait_up "$1"
}

peak_rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

location() { # port -> absolute upload URL from the Location header on stdin
  local loc; loc=$(tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  case "$loc" in http*) echo "$loc";; *) echo "http://127.0.0.1:$1$loc";; esac
}
with_digest() { case "$1" in *\?*) echo "$1&digest=$2";; *) echo "$1?digest=$2";; esac; }
elapsed() { echo "$(date +%s.%N) - $1" | bc -l; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # a process's user + system time
TICKS=$(getconf CLK_TCK)
mono_upload() { # port repo file digest server-pid who -> seconds
  # Also the CPU the upload cost: the server's, and curl's, in seconds, appended to
  # $WORK/cpu.WHO. Both share this machine's cores, so together they bound how fast
  # an upload can go here however the server spreads its work.
  local loc t0 code s0 cu cs
  loc=$(curl -si -X POST "http://127.0.0.1:$1/v2/$2/blobs/uploads/" | location "$1")
  s0=$(cpu_ticks "$5")
  t0=$(date +%s.%N)
  code=$( { TIMEFORMAT='%U %S'; time curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
         -T "$3" "$(with_digest "$loc" "$4")"; } 2>"$WORK/curl.cpu")
  [ "$code" = 201 ] || { echo "monolithic upload to $1 failed: $code" >&2; exit 1; }
  elapsed "$t0"
  read -r cu cs <"$WORK/curl.cpu"
  echo "$(echo "($(cpu_ticks "$5") - $s0) / $TICKS" | bc -l) $(echo "$cu + $cs" | bc -l)" >>"$WORK/cpu.$6"
}

chunked_upload() { # port repo chunk-dir digest -> seconds
  local loc t0 code at=0 size sizes=()
  loc=$(curl -si -X POST "http://127.0.0.1:$1/v2/$2/blobs/uploads/" | location "$1")
  # Sizes first, and the next Location straight from curl (-w %header{}): the timed
  # loop runs one process per chunk, so that what it measures is the servers, not
  # the shell (a pipeline per chunk added 0.1-0.4 s to a 1 GiB upload here).
  for part in "$3"/part.*; do sizes+=("$(stat -c %s "$part")"); done
  local i=0
  t0=$(date +%s.%N)
  for part in "$3"/part.*; do
    size=${sizes[$i]}; i=$((i + 1))
    loc=$(curl -s -o /dev/null -w '%header{location}' -X PATCH -H 'Content-Type: application/octet-stream' \
          -H "Content-Range: $at-$((at + size - 1))" -T "$part" "$loc")
    case "$loc" in http*) ;; *) loc="http://127.0.0.1:$1$loc";; esac
    at=$((at + size))
  done
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$(with_digest "$loc" "$4")")
  [ "$code" = 201 ] || { echo "chunked upload to $1 failed: $code" >&2; exit 1; }
  elapsed "$t0"
}

download() { # port who -> seconds to GET the 1 GiB blob
  local got
  got=$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "http://127.0.0.1:$1/v2/library/big-mono/blobs/$D1G")
  [ "${got% *}" = "200 $((1024 << 20))" ] || { echo "[$2] download failed: $got" >&2; exit 1; }
  echo "${got##* }"
}

echo "preparing a 1 GiB blob..." >&2
# The client's copy lives in memory (/dev/shm when there is one): reading it costs
# the client no disk, and the disk holds only what the servers write.
SRC=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo "$WORK")/bench.XXXXXX")
trap 'cleanup; rm -rf "$SRC"' EXIT
head -c $((1024 << 20)) /dev/urandom >"$SRC/blob1g"
D1G=sha256:$(sha256sum "$SRC/blob1g" | cut -d' ' -f1)
mkdir "$SRC/chunks"; split -b "${CHUNK_MIB}M" -a 3 "$SRC/blob1g" "$SRC/chunks/part."
mbps() { echo "1073.741824 / $1" | bc -l | xargs printf '%.0f'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
spread() { tr ' ' '\n' | grep . | sort -n | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }
largest() { tr ' ' '\n' | grep . | sort -n | tail -1; }

# The limits, on this machine, now: what an upload's pieces cost on their own.
echo "measuring the limits (sha256, loopback, disk)..." >&2
# openssl reports thousands of bytes per second for 16 KiB blocks, per second of CPU
# time by default (what one core hashes, however busy the machine), per second of
# wall-clock time with -elapsed (what one thread got just now, beside other work).
openssl_sha() { openssl speed "$@" -evp sha256 -bytes 16384 -seconds 3 2>/dev/null |
                awk '$1=="sha256" || $1=="SHA256" {v=$NF} END {sub("k","",v); printf "%.0f", v/1000}'; }
LOOPBACKS=""; TRANSPORT_CPU=""
SHA_LIMIT=$(openssl_sha)
SHA_ELAPSED=$(openssl_sha -elapsed)
cargo build --release --quiet -p wharf-oci --example sha256_speed
# The sha2 crate Wharf hashes with, on 1 GiB: wall-clock MB/s, and per CPU second.
SHA_CRATE=$( { TIMEFORMAT=%U; time "$ROOT/target/release/examples/sha256_speed" 1024 1024 2>/dev/null; } 2>&1 | tr '\n' ' ')
SHA_CRATE_CPU=$(mbps "${SHA_CRATE#* }"); SHA_CRATE=${SHA_CRATE%% *}
python3 "$ROOT/scripts/http-sink.py" >"$WORK/sink.port" & PIDS+=($!); SINK_PID=$!
for _ in $(seq 50); do [ -s "$WORK/sink.port" ] && break; sleep 0.1; done
# The same upload to the sink, REPEAT times: its speed, and the CPU the transport
# alone costs per GiB, curl's (user + system) and the sink's system time (its
# kernel's receive; the sink's user time is Python's and no server needs it). With
# the hash's CPU (openssl's, per CPU second) that gives the fastest any server that
# hashes what it receives could take this upload on this machine's cores.
for _ in $(seq "$REPEAT"); do
  s0=$(awk '{print $15}' "/proc/$SINK_PID/stat")
  t=$( { TIMEFORMAT='%U %S'; time curl -s -o /dev/null -w '%{time_total}' -T "$SRC/blob1g" "http://127.0.0.1:$(cat "$WORK/sink.port")/"; } 2>"$WORK/curl.cpu")
  read -r cu cs <"$WORK/curl.cpu"
  LOOPBACKS+=" $(mbps "$t")"
  TRANSPORT_CPU+=" $(echo "$cu + $cs + ($(awk '{print $15}' "/proc/$SINK_PID/stat") - $s0) / $(getconf CLK_TCK)" | bc -l)"
done
dd_mbps() { # dd options... -> MB/s writing the 1 GiB blob into $WORK (the servers' disk)
  local secs; secs=$(dd if="$SRC/blob1g" of="$WORK/dd.out" "$@" 2>&1 | awk '/copied/ {print $(NF-3)}')
  rm -f "$WORK/dd.out"; mbps "$secs"
}
# Each REPEAT times, the median: this disk's speed changes from minute to minute.
dd_med() { local all=""; for _ in $(seq "$REPEAT"); do all+=" $(dd_mbps "$@")"; done; median <<<"$all"; }
DD_BUFFERED=$(dd_med bs=1M)
DD_FSYNC=$(dd_med bs=1M conv=fsync)
DD_DIRECT=$(dd_med bs=1M oflag=direct conv=fsync)

declare -A R
if [ -z "${BLOB_ONLY:-}" ]; then
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

    echo "[$who] 100 small images with skopeo" >&2
    t0=$(date +%s.%N)
    for i in $(seq 1 100); do
      skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$IMAGES/oci/small:v1" "docker://127.0.0.1:$port/bench/img$i:v1"
    done
    R[$who.push100]=$(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.1f')
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
fi

# The blob measures: REPEAT rounds, Wharf and the reference taking turns in each, so
# that a busy moment of the machine does not fall on one side only.
SIDES="wharf reference"; [ -z "${BASELINE_BIN:-}" ] || SIDES="baseline $SIDES"
for round in $(seq "$REPEAT"); do
  for who in $SIDES; do
    dir=$WORK/$who-big; mkdir -p "$dir"
    for kind in mono chunked get; do
      echo "[$who] 1 GiB: $kind (fresh process, round $round of $REPEAT)" >&2
      port=$(free_port)
      # The chunked upload gets a store of its own: in the monolithic upload's it
      # would be a blob the store already has, and measure that case's clean-up.
      sub=data; [ $kind != chunked ] || sub=chunked
      case $who in
        wharf) start_wharf "$port" "$dir/$sub" ;;
        baseline) start_wharf "$port" "$dir/$sub" "$BASELINE_BIN" ;;
        *) start_reference "$port" "$dir/$sub" ;;
      esac
      case $kind in
        mono) t=$(mono_upload "$port" library/big-mono "$SRC/blob1g" "$D1G" "$LAST_PID" "$who") ;;
        chunked) t=$(chunked_upload "$port" library/big-chunked "$SRC/chunks" "$D1G") ;;
        get) t=$(download "$port" "$who") ;;
      esac
      if [ $kind = get ]; then
        # The same blob again, twice, from the same process: what a layer pulled
        # again and again costs, served from the page cache (the median of the two).
        a=$(download "$port" "$who"); b=$(download "$port" "$who")
        R[$who.getwarm]+=" $(mbps "$a") $(mbps "$b")"
      fi
      R[$who.$kind]+=" $(mbps "$t")"
      R[$who.$kind.rss]+=" $(peak_rss_mib "$LAST_PID")"
      kill "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
      [ $kind != chunked ] || rm -rf "${dir:?}/chunked"
    done
    rm -rf "$dir" # room on the disk for the next server's copy
  done
done
for key in "${!R[@]}"; do
  case $key in
    *.rss) R[$key.max]=$(largest <<<"${R[$key]}") ;;
    *.mono|*.chunked|*.get|*.getwarm) R[$key.med]=$(median <<<"${R[$key]}"); R[$key.spread]=$(spread <<<"${R[$key]}") ;;
  esac
done

if [ -z "${BLOB_ONLY:-}" ]; then
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
fi

LOOPBACK=$(median <<<"$LOOPBACKS")
TRANSPORT=$(median <<<"$TRANSPORT_CPU" | xargs printf '%.2f')
# Per GiB: the transport's CPU plus the hash's at openssl's rate, spread perfectly
# over every core; the bound assumes a server that costs nothing else at all (no
# copy, no write: the disk lines below say whether the disk would allow it; they are
# not part of the bound, since the disk's speed changes more from one minute to
# the next than the CPU's).
CPU_BOUND=$(echo "1073.741824 * $(nproc) / ($TRANSPORT + 1073.741824 / $SHA_LIMIT)" | bc -l | xargs printf '%.0f')
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
printf '\n%-34s %14s %14s %8s\n' "measure" "wharf" "reference" "ratio"
[ -n "${BLOB_ONLY:-}" ] || printf '%-34s %14s %14s %8s\n' "manifest GET, requests/s" "${R[wharf.rps]}" "${R[reference.rps]}" "$(ratio "${R[wharf.rps]}" "${R[reference.rps]}")"
[ -n "${BLOB_ONLY:-}" ] || printf '%-34s %14s %14s\n' "manifest GET, p99 latency" "${R[wharf.p99]}" "${R[reference.p99]}"
row() { # label key: the median of both, the ratio, and each side's min-max
  printf '%-34s %14s %14s %8s   %s / %s\n' "$1" "${R[wharf.$2.med]}" "${R[reference.$2.med]}" \
    "$(ratio "${R[wharf.$2.med]}" "${R[reference.$2.med]}")" "${R[wharf.$2.spread]}" "${R[reference.$2.spread]}"
}
pct() { echo "$(( $1 * 100 / ${2:-$SHA_LIMIT} ))%"; }
printf '%-34s %14s %14s %8s   %s\n' "1 GiB blob, median of $REPEAT, MB/s" "" "" "" "wharf / reference min-max"
row "1 GiB monolithic PUT, MB/s" mono
row "1 GiB chunked PATCH (${CHUNK_MIB} MiB), MB/s" chunked
row "1 GiB GET, MB/s" get
row "1 GiB GET again (cache warm), MB/s" getwarm
printf '%-34s %14s %14s\n' "  peak RSS: PUT, MiB (largest)" "${R[wharf.mono.rss.max]}" "${R[reference.mono.rss.max]}"
printf '%-34s %14s %14s\n' "  peak RSS: PATCH, MiB (largest)" "${R[wharf.chunked.rss.max]}" "${R[reference.chunked.rss.max]}"
printf '%-34s %14s %14s\n' "  peak RSS: GET, MiB (largest)" "${R[wharf.get.rss.max]}" "${R[reference.get.rss.max]}"
printf '%-34s %14s %14s\n' "  PUT, PATCH as % of openssl (CPU)" "$(pct "${R[wharf.mono.med]}") $(pct "${R[wharf.chunked.med]}")" \
  "$(pct "${R[reference.mono.med]}") $(pct "${R[reference.chunked.med]}")"
printf '%-34s %14s %14s\n' "  the same, of openssl -elapsed" "$(pct "${R[wharf.mono.med]}" "$SHA_ELAPSED") $(pct "${R[wharf.chunked.med]}" "$SHA_ELAPSED")" \
  "$(pct "${R[reference.mono.med]}" "$SHA_ELAPSED") $(pct "${R[reference.chunked.med]}" "$SHA_ELAPSED")"
# CPU per monolithic PUT (medians), and the fastest the PUT could then go with every
# core of this machine busy with it: cores / (server's + curl's CPU seconds per GiB).
cpu_med() { awk -v c="$2" '{print $c}' "$WORK/cpu.$1" | median | xargs printf '%.2f'; }
cpu_bound() { echo "1073.741824 * $(nproc) / ($(cpu_med "$1" 1) + $(cpu_med "$1" 2))" | bc -l | xargs printf '%.0f'; }
printf '%-34s %14s %14s\n' "  PUT's CPU: server + curl, s" "$(cpu_med wharf 1) + $(cpu_med wharf 2)" "$(cpu_med reference 1) + $(cpu_med reference 2)"
printf '%-34s %14s %14s\n' "  fastest on $(nproc) cores at that CPU" "$(cpu_bound wharf) $(pct "$(cpu_bound wharf)")" \
  "$(cpu_bound reference) $(pct "$(cpu_bound reference)")"
printf '\n%-50s %8s\n' "limits on this machine, this run" "MB/s"
printf '%-50s %8s\n' "sha256: openssl speed -evp sha256 (16 KiB), CPU time" "$SHA_LIMIT"
printf '%-50s %8s\n' "sha256: the same, wall clock (-elapsed)" "$SHA_ELAPSED"
printf '%-50s %8s\n' "sha256: sha2 crate Wharf hashes with, CPU time" "$SHA_CRATE_CPU"
printf '%-50s %8s\n' "sha256: sha2 crate Wharf hashes with, wall clock" "$SHA_CRATE"
printf '%-50s %8s\n' "loopback: curl -T 1 GiB to a sink, no hashing" "$LOOPBACK"
printf '%-50s %8s\n' "  its CPU per GiB: curl + the sink's kernel, s" "$TRANSPORT"
printf '%-50s %8s\n' "any server: loopback + sha256 on $(nproc) cores" "$CPU_BOUND $(pct "$CPU_BOUND")"
printf '%-50s %8s\n' "  Wharf's PUT, PATCH as % of that" "$(pct "${R[wharf.mono.med]}" "$CPU_BOUND") $(pct "${R[wharf.chunked.med]}" "$CPU_BOUND")"
printf '%-50s %8s\n' "disk: dd 1 GiB, buffered, no fsync" "$DD_BUFFERED"
printf '%-50s %8s\n' "disk: dd 1 GiB, buffered + fsync" "$DD_FSYNC"
printf '%-50s %8s\n' "disk: dd 1 GiB, O_DIRECT (1 MiB writes) + fsync" "$DD_DIRECT"
if [ -n "${BASELINE_BIN:-}" ]; then
  printf '\n%-34s %14s %14s %8s   %s\n' "this build against BASELINE_BIN" "wharf" "baseline" "ratio" "wharf / baseline min-max"
  for k in mono:"1 GiB monolithic PUT, MB/s" chunked:"1 GiB chunked PATCH, MB/s" get:"1 GiB GET, MB/s" getwarm:"1 GiB GET again, MB/s"; do
    printf '%-34s %14s %14s %8s   %s / %s\n' "${k#*:}" "${R[wharf.${k%%:*}.med]}" "${R[baseline.${k%%:*}.med]}" \
      "$(ratio "${R[wharf.${k%%:*}.med]}" "${R[baseline.${k%%:*}.med]}")" "${R[wharf.${k%%:*}.spread]}" "${R[baseline.${k%%:*}.spread]}"
  done
  for k in mono:PUT chunked:PATCH get:GET; do
    printf '%-34s %14s %14s\n' "  peak RSS: ${k#*:}, MiB (largest)" "${R[wharf.${k%%:*}.rss.max]}" "${R[baseline.${k%%:*}.rss.max]}"
  done
fi
[ -n "${BLOB_ONLY:-}" ] && exit 0
printf '%-34s %14s %14s %8s\n' "100 images with skopeo, seconds" "${R[wharf.push100]}" "${R[reference.push100]}" "$(ratio "${R[reference.push100]}" "${R[wharf.push100]}")"
printf '\n%-34s %14s %14s %8s\n' "wharf: token auth vs none" "with token" "no auth" "ratio"
printf '%-34s %14s %14s %8s\n' "manifest GET, requests/s" "${R[auth.rps]}" "${R[wharf.rps]}" "$(ratio "${R[auth.rps]}" "${R[wharf.rps]}")"
printf '%-34s %14s %14s\n' "manifest GET, p99 latency" "${R[auth.p99]}" "${R[wharf.p99]}"
