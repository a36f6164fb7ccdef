#!/usr/bin/env bash
# One node at scale: the same requests against a nearly empty registry (one image)
# and a full one (`wharf dev populate`: by default 10,000 repositories, 200,000
# manifests, 1,000,000 tags, 100,000 of them in p0/big), in one run:
#   startup time and idle RSS; manifest GET by tag and by digest (random tags and
#   digests across the registry); a tag list page of p0/big (n=100&last=…);
#   a catalog page; Harbor's artifact list with_scan_overview; the project list
#   (each: wrk, 2 threads, 16 connections, requests/s and p99); a new small image
#   pushed with skopeo; a GC dry run (seconds).
# Load tool: wrk (Debian), with scripts/bench-scale.lua for the random paths.
# Usage: scripts/bench-scale.sh
#   FULL_DIR=DIR   keep (or reuse) the populated registry there: populating takes minutes
#   POPULATE="--repos 1000 --manifests 20000 --tags 100000 --big-repo-tags 10000"
#                  a smaller registry (arguments to `wharf dev populate`)
#   DURATION=5     seconds per wrk measure
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${WHARF_SHARED:-$(cd .. && pwd)/shared}
IMAGES=${WHARF_TEST_IMAGES:-$ROOT/target/test-images}
DURATION=${DURATION:-5}
for t in wrk skopeo curl python3; do command -v $t >/dev/null || { echo "missing $t (apt-get install wrk skopeo curl)" >&2; exit 1; }; done
[ -f "$IMAGES/oci/small/index.json" ] || SKIP_DEBIAN=1 bash "$SHARED/testing/make-test-images.sh" "$IMAGES" >&2
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet --bin wharf
WHARF=$ROOT/target/release/wharf
WORK=$(mktemp -d)
PW=Bench12345
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

EMPTY=$WORK/empty
"$WHARF" dev populate --data-dir "$EMPTY" --projects 1 --repos 1 --manifests 1 --tags 1 \
  --big-repo-tags 1 --configs 1 --layers 3 2>/dev/null
FULL=${FULL_DIR:-$WORK/full}
if [ ! -f "$FULL/wharf.db" ]; then
  echo "populating $FULL (${POPULATE:-defaults})..." >&2
  # shellcheck disable=SC2086
  "$WHARF" dev populate --data-dir "$FULL" ${POPULATE:-} >&2
fi

declare -A R
wrk_measure() { # key url [paths-file]
  local out
  if [ -n "${3:-}" ]; then
    out=$(PATHS_FILE=$3 wrk -t2 -c16 -d"${DURATION}s" --latency -s scripts/bench-scale.lua \
          -H "Authorization: Bearer $TOKEN" -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$2")
  else
    out=$(wrk -t2 -c16 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" \
          -H "Accept: application/json" "$2")
  fi
  local bad; bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  [ -z "$bad" ] || { echo "[$1] $bad non-2xx answers from $2" >&2; echo "$out" >&2; exit 1; }
  R[$1.rps]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  R[$1.p99]=$(awk '$1=="99%" {print $2}' <<<"$out")
}

for who in empty full; do
  dir=$EMPTY; [ $who = full ] && dir=$FULL
  port=$(free_port); base=http://127.0.0.1:$port
  t0=$(date +%s.%N)
  WHARF_ADMIN_PASSWORD=$PW WHARF_LOG=warn "$WHARF" serve --auth --listen "127.0.0.1:$port" --data-dir "$dir" >"$WORK/$who.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  for _ in $(seq 600); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v2/")" = 401 ] && break; sleep 0.05; done
  R[$who.startup]=$(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.2f')
  sleep 3
  R[$who.idle]=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
  # One token for every measure: pull on the repositories used, and the catalog.
  scope="scope=registry:catalog:*&scope=repository:p0/big:pull"
  TOKEN=$(curl -s -u "admin:$PW" "$base/service/token?service=wharf&$scope" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

  # Paths: random tags of p0/big, and the digests of some of them.
  tags=$(BASE=$base TOKEN=$TOKEN python3 - <<'PY'
import json, os, urllib.request
base, url, out = os.environ["BASE"], "/v2/p0/big/tags/list?n=1000", []
while url:
    req = urllib.request.Request(base + url, headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
    with urllib.request.urlopen(req) as r:
        out += json.load(r)["tags"]
        link = r.headers.get("Link")
    url = link[link.index("<") + 1:link.index(">")] if link else None
print("\n".join(out))
PY
)
  shuf -n 1000 --random-source=<(yes) <<<"$tags" | sed 's|^|/v2/p0/big/manifests/|' >"$WORK/$who.tags"
  head -200 "$WORK/$who.tags" | while read -r p; do
    curl -sI -H "Authorization: Bearer $TOKEN" -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$base$p" |
      tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print "/v2/p0/big/manifests/" $2}'
  done | sort -u >"$WORK/$who.digests"
  middle=$(sed -n "$(( $(wc -l <<<"$tags") / 2 + 1 ))p" <<<"$tags")

  echo "[$who] manifest GET by tag / by digest" >&2
  wrk_measure "$who.bytag" "$base" "$WORK/$who.tags"
  wrk_measure "$who.bydigest" "$base" "$WORK/$who.digests"
  echo "[$who] tag list page, catalog page" >&2
  wrk_measure "$who.tagpage" "$base/v2/p0/big/tags/list?n=100&last=$middle"
  wrk_measure "$who.catalog" "$base/v2/_catalog?n=100&last=p0/big"
  echo "[$who] artifacts with scan overview, projects" >&2
  basic=$(printf 'admin:%s' "$PW" | base64)
  TOKEN_SAVED=$TOKEN
  # The management API takes Basic credentials: wrk sends them in place of the token.
  TOKEN=x; wrk_basic() {
    local out; out=$(wrk -t2 -c16 -d"${DURATION}s" --latency -H "Authorization: Basic $basic" "$2")
    local bad; bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    [ -z "$bad" ] || { echo "[$1] $bad non-2xx answers from $2" >&2; echo "$out" >&2; exit 1; }
    R[$1.rps]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    R[$1.p99]=$(awk '$1=="99%" {print $2}' <<<"$out")
  }
  wrk_basic "$who.artifacts" "$base/api/v2.0/projects/p0/repositories/big/artifacts?with_scan_overview=true&with_tag=true&page_size=10"
  wrk_basic "$who.projects" "$base/api/v2.0/projects?page_size=10"
  TOKEN=$TOKEN_SAVED

  echo "[$who] push of a new small image, GC dry run" >&2
  t0=$(date +%s.%N)
  skopeo --insecure-policy copy -q --dest-tls-verify=false --dest-creds "admin:$PW" \
    "oci:$IMAGES/oci/small:v1" "docker://127.0.0.1:$port/p0/pushed:v1"
  R[$who.push]=$(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.2f')
  t0=$(date +%s.%N)
  WHARF_PASSWORD=$PW "$WHARF" gc run --dry-run --registry "$base" --username admin >/dev/null
  R[$who.gc]=$(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.2f')
  R[$who.rss]=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
printf '\n%-40s %16s %16s %8s\n' "measure" "empty" "full" "full/empty"
for m in bytag:"manifest GET by tag" bydigest:"manifest GET by digest" tagpage:"tag list page (p0/big)" \
         catalog:"catalog page" artifacts:"artifacts, with_scan_overview" projects:"project list"; do
  k=${m%%:*}; name=${m#*:}
  printf '%-40s %9s req/s %9s req/s %8s\n' "$name" "${R[empty.$k.rps]}" "${R[full.$k.rps]}" "$(ratio "${R[full.$k.rps]}" "${R[empty.$k.rps]}")"
  printf '%-40s %16s %16s\n' "  p99" "${R[empty.$k.p99]}" "${R[full.$k.p99]}"
done
printf '%-40s %14s s %14s s\n' "push of a new small image (skopeo)" "${R[empty.push]}" "${R[full.push]}"
printf '%-40s %14s s %14s s\n' "GC dry run" "${R[empty.gc]}" "${R[full.gc]}"
printf '%-40s %14s s %14s s\n' "startup (until /v2/ answers)" "${R[empty.startup]}" "${R[full.startup]}"
printf '%-40s %12s MiB %12s MiB\n' "idle RSS (3 s after start)" "${R[empty.idle]}" "${R[full.idle]}"
printf '%-40s %12s MiB %12s MiB\n' "RSS after the measures" "${R[empty.rss]}" "${R[full.rss]}"
