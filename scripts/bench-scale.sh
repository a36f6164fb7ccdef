#!/usr/bin/env bash
# One node at scale: the same requests against a small registry (below) and a full
# one (`wharf dev populate`: by default 10,000 repositories, 200,000
# manifests, 1,000,000 tags, 100,000 of them in p0/big), in one run:
#   startup time and idle RSS; manifest GET by tag and by digest (random tags and
#   digests across the registry); a tag list page of p0/big (n=100&last=…);
#   a catalog page; Harbor's artifact list with_scan_overview; the project list
#   (each: wrk, 2 threads, 16 connections, requests/s and p99); a new small image
#   pushed with skopeo; a GC dry run (seconds, through the API).
#
# The registry measured against the full one is a SMALL one, not an empty one: 250
# repositories in 20 projects, 500 manifests, 500 tags in p0/big; just enough that
# every listing (a catalog page of 100 after p0/big, a tag page of 100, an artifact
# page of 10, a project page of 10) returns a full page. Against a registry holding one image those pages come back
# empty, and the ratio measured the page's size (O(page), as it should be), not the
# registry's. For the same reason its images have as many tags each as the full
# one's (five): with two, an artifact page of the full registry listed 50 tags
# against 20 and its ratio measured that. An empty registry is still started, for
# its startup time and idle RSS.
#
# Both registries run side by side for the whole run and every measure is taken
# INTERLEAVED: small, full, small, full, … ROUNDS times, medians reported. On a
# shared machine the load changes from minute to minute; only ratios taken this way,
# each full measure next to a small one, say anything about the registry.
#
# DATABASE=postgres: the same run with the metadata in PostgreSQL (`wharf serve
# --database`). A private server is started for the run (Debian's postgresql: initdb
# as an unprivileged user, a free port, default settings, stopped at exit) with one
# database per registry (empty, small, full), each filled by `wharf dev populate
# --database`, which ends with VACUUM (ANALYZE). Each wrk measure also reports the SQL
# statements per request (pg_stat_statements: every statement run in that registry's
# database during the measure, background work included, over the requests wrk made).
#
# Load tool: wrk (Debian), with scripts/bench-scale.lua for the random paths.
# Usage: scripts/bench-scale.sh
#   FULL_DIR=DIR   keep (or reuse) the populated registry there: populating takes minutes.
#                  With DATABASE=postgres, DIR/registry is its data directory and DIR/pg
#                  the PostgreSQL cluster holding its database (kept, and started again
#                  by the next run; small and empty databases are made afresh in it)
#   DATABASE=postgres  metadata in PostgreSQL (default: SQLite in each data directory)
#   POPULATE="--repos 1000 --manifests 20000 --tags 100000 --big-repo-tags 10000"
#                  a smaller registry (arguments to `wharf dev populate`)
#   DURATION=5     seconds per wrk measure
#   WARMUP=2       seconds of each request, per registry, before its measures (not counted)
#   ROUNDS=3       small/full pairs per measure (medians reported)
#   ONLY="bytag catalog"  run only these measures (bytag bydigest tagpage catalog
#                  artifacts projects push gc)
#   NO_BUILD=1     use target/release/wharf as it is
#   WHARF_BIN=PATH another binary (e.g. a build from before a change)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${WHARF_SHARED:-$(cd .. && pwd)/shared}
IMAGES=${WHARF_TEST_IMAGES:-$ROOT/target/test-images}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
ONLY=${ONLY:-bytag bydigest tagpage catalog artifacts projects push gc}
for t in wrk skopeo curl python3 bc; do command -v $t >/dev/null || { echo "missing $t (apt-get install wrk skopeo curl bc)" >&2; exit 1; }; done
case ${DATABASE:-sqlite} in
  sqlite) PG= ;;
  postgres) PG=1
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -x "$PGBIN/initdb" ] || { echo "missing PostgreSQL (apt-get install postgresql)" >&2; exit 1; } ;;
  *) echo "DATABASE is sqlite or postgres" >&2; exit 1 ;;
esac
[ -f "$IMAGES/oci/small/index.json" ] || SKIP_DEBIAN=1 bash "$SHARED/testing/make-test-images.sh" "$IMAGES" >&2
[ -n "${NO_BUILD:-}" ] || [ -n "${WHARF_BIN:-}" ] || cargo build --release --quiet --bin wharf
WHARF=${WHARF_BIN:-$ROOT/target/release/wharf}
WORK=$(mktemp -d)
chmod 755 "$WORK"
PW=Bench12345
PIDS=()
PG_PID=
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # A fast shutdown (a kept cluster starts again cleanly next time). The server
  # itself, not the background shell that started it (which ignores SIGINT).
  if [ -n "$PG_PID" ]; then as_pg "$PGBIN/pg_ctl" stop -D "$PG_DATA" -m fast -w >/dev/null || true; wait "$PG_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
want() { [[ " $ONLY " == *" $1 "* ]]; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The metadata each registry is served with: `--database URL` on PostgreSQL, none
# on SQLite (wharf.db in its data directory).
declare -A DB_URL
db_args() { [ -z "${DB_URL[$1]:-}" ] || printf '%s\n' --database "${DB_URL[$1]}"; }

FULL=${FULL_DIR:-$WORK/full}
if [ -n "$PG" ]; then
  # PostgreSQL refuses to run as root: the cluster belongs to nobody then.
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
  PG_DATA=$FULL/pg
  FULL_DATA=$FULL/registry
  mkdir -p "$FULL"
  [ "$(id -u)" = 0 ] && chown nobody: "$FULL"
  [ -f "$PG_DATA/PG_VERSION" ] || as_pg "$PGBIN/initdb" --auth=trust --encoding=UTF8 -U wharf -D "$PG_DATA" >/dev/null
  PG_PORT=$(free_port)
  mkdir "$WORK/pg-socket"; [ "$(id -u)" = 0 ] && chown nobody: "$WORK/pg-socket"
  as_pg "$PGBIN/postgres" -D "$PG_DATA" -p "$PG_PORT" -k "$WORK/pg-socket" -c listen_addresses=127.0.0.1 \
    -c shared_preload_libraries=pg_stat_statements >"$WORK/pg.log" 2>&1 &
  PG_PID=$!
  for _ in $(seq 300); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.1; done
  psql_q() { PGOPTIONS='-c client_min_messages=warning' "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U wharf "$@"; }
  fresh_db() { # name: a new, empty database with pg_stat_statements
    psql_q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
    psql_q -d "$1" -c "CREATE EXTENSION pg_stat_statements"
  }
  for who in empty small full; do DB_URL[$who]="postgres://wharf@127.0.0.1:$PG_PORT/bench_$who"; done
  fresh_db bench_empty; fresh_db bench_small
  # The full database is kept with the cluster once a fill has finished (the marker).
  if [ ! -f "$FULL/populated" ]; then
    fresh_db bench_full; rm -rf "$FULL_DATA"
  fi
else
  FULL_DATA=$FULL
fi
statements() { # who: SQL statements run so far in its database (0 on SQLite)
  if [ -n "$PG" ]; then
    psql_q -d "bench_$1" -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'bench_$1'"
  else echo 0; fi
}

EMPTY=$WORK/empty
mapfile -t args < <(db_args empty)
"$WHARF" dev populate --data-dir "$EMPTY" "${args[@]}" --projects 1 --repos 1 --manifests 1 --tags 1 \
  --big-repo-tags 1 --configs 1 --layers 3 2>/dev/null
SMALL=$WORK/small
mapfile -t args < <(db_args small)
"$WHARF" dev populate --data-dir "$SMALL" "${args[@]}" --projects 20 --repos 250 --manifests 500 --tags 2500 \
  --big-repo-tags 500 --configs 20 --layers 10 2>/dev/null
if { [ -n "$PG" ] && [ ! -f "$FULL/populated" ]; } || { [ -z "$PG" ] && [ ! -f "$FULL/wharf.db" ]; }; then
  echo "populating $FULL_DATA ${DB_URL[full]:-} (${POPULATE:-defaults})..." >&2
  mapfile -t args < <(db_args full)
  # shellcheck disable=SC2086
  "$WHARF" dev populate --data-dir "$FULL_DATA" "${args[@]}" ${POPULATE:-} >&2
  [ -z "$PG" ] || touch "$FULL/populated"
fi

declare -A R BASE PID
# Start all three, one after the other (startup time and idle RSS are taken alone);
# the empty one is stopped once measured.
for who in empty small full; do
  case $who in empty) dir=$EMPTY ;; small) dir=$SMALL ;; full) dir=$FULL_DATA ;; esac
  port=$(free_port); base=http://127.0.0.1:$port
  mapfile -t args < <(db_args $who)
  t0=$(date +%s.%N)
  WHARF_ADMIN_PASSWORD=$PW WHARF_LOG=warn "$WHARF" serve --auth --listen "127.0.0.1:$port" --data-dir "$dir" "${args[@]}" >"$WORK/$who.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  for _ in $(seq 600); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v2/")" = 401 ] && break; sleep 0.05; done
  R[$who.startup]=$(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.2f')
  sleep 3
  R[$who.idle]=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
  BASE[$who]=$base; PID[$who]=$pid
  if [ $who = empty ]; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
done

# A fresh token for each measure (tokens expire; the run takes minutes): pull on
# p0/big, and the catalog.
token() {
  curl -s -u "admin:$PW" "${BASE[$1]}/service/token?service=wharf&scope=registry:catalog:*&scope=repository:p0/big:pull" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

# Paths: random tags of p0/big, and the digests of some of them; the middle tag
# for the tag page.
declare -A MIDDLE
for who in small full; do
  base=${BASE[$who]}; TOKEN=$(token $who)
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
  MIDDLE[$who]=$(sed -n "$(( $(wc -l <<<"$tags") / 2 + 1 ))p" <<<"$tags")
done

# p99 as wrk prints it (us, ms or s) → milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$1"; }

# wrk for SECONDS: key who url paths-file seconds → wrk's report.
wrk_for() {
  local key=$1 who=$2 url=$3 paths=$4 secs=$5 auth
  case $key in
    artifacts|projects) auth="Basic $(printf 'admin:%s' "$PW" | base64)" ;; # the management API takes Basic credentials
    *) auth="Bearer $(token "$who")" ;;
  esac
  if [ -n "$paths" ]; then
    PATHS_FILE=$paths wrk -t2 -c16 -d"${secs}s" --latency -s scripts/bench-scale.lua \
      -H "Authorization: $auth" -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$url"
  else
    wrk -t2 -c16 -d"${secs}s" --latency -H "Authorization: $auth" -H "Accept: application/json" "$url"
  fi
}

# One wrk run: measure who path-or-url [paths-file]; appends rps and p99 (ms) to lists.
wrk_once() {
  local key=$1 who=$2 url=$3 paths=${4:-} out
  local before; before=$(statements "$who")
  out=$(wrk_for "$key" "$who" "$url" "$paths" "$DURATION")
  local bad; bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  [ -z "$bad" ] || { echo "[$key $who] $bad non-2xx answers from $url" >&2; echo "$out" >&2; exit 1; }
  R[$who.$key.rps]+="$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out") "
  R[$who.$key.p99]+="$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")") "
  [ -z "$PG" ] || R[$who.$key.sql]+="$(echo "($(statements "$who") - $before) / $(awk '/requests in/ {print $1}' <<<"$out")" | bc -l | xargs printf '%.2f') "
}

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2}'; }

url_of() { # key who → url
  local base=${BASE[$2]}
  case $1 in
    bytag|bydigest) echo "$base" ;;
    tagpage) echo "$base/v2/p0/big/tags/list?n=100&last=${MIDDLE[$2]}" ;;
    catalog) echo "$base/v2/_catalog?n=100&last=p0/big" ;;
    artifacts) echo "$base/api/v2.0/projects/p0/repositories/big/artifacts?with_scan_overview=true&with_tag=true&page_size=10" ;;
    projects) echo "$base/api/v2.0/projects?page_size=10" ;;
  esac
}

for key in bytag bydigest tagpage catalog artifacts projects; do
  want $key || continue
  # A warm-up of each request first, not counted: the first requests of a kind open
  # connections and prepare statements (on PostgreSQL, each pooled connection plans
  # a statement afresh for its first five runs), and round 1 had p99s of 30-40 ms
  # on both registries where the next rounds had 18.
  for who in small full; do
    echo "[$key] warm-up (${WARMUP}s): $who" >&2
    paths=
    [ $key = bytag ] && paths=$WORK/$who.tags
    [ $key = bydigest ] && paths=$WORK/$who.digests
    wrk_for $key $who "$(url_of $key $who)" "$paths" "$WARMUP" >/dev/null
  done
  for round in $(seq "$ROUNDS"); do
    for who in small full; do
      echo "[$key] round $round: $who" >&2
      paths=
      [ $key = bytag ] && paths=$WORK/$who.tags
      [ $key = bydigest ] && paths=$WORK/$who.digests
      wrk_once $key $who "$(url_of $key $who)" "$paths"
    done
  done
done

# Timed once per round, interleaved too: a push of a new small image (a new
# repository each round), a GC dry run.
for round in $(seq "$ROUNDS"); do
  for who in small full; do
    base=${BASE[$who]}; port=${base##*:}
    if want push; then
      t0=$(date +%s.%N)
      skopeo --insecure-policy copy -q --dest-tls-verify=false --dest-creds "admin:$PW" \
        "oci:$IMAGES/oci/small:v1" "docker://127.0.0.1:$port/p0/pushed-$round:v1"
      R[$who.push]+="$(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.3f') "
    fi
    if want gc; then
      # Through the API, the job polled every 5 ms: `wharf gc run` polls at 0.2,
      # 0.6, 1.4 s…, which rounds every run up to one of those.
      R[$who.gc]+="$(python3 - "$base" "$PW" <<'PY'
import base64, json, sys, time, urllib.request
base, pw = sys.argv[1], sys.argv[2]
auth = "Basic " + base64.b64encode(f"admin:{pw}".encode()).decode()
def call(method, path, body=None):
    req = urllib.request.Request(base + "/api/v2.0" + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": auth, "Content-Type": "application/json"})
    return urllib.request.urlopen(req)
t0 = time.monotonic()
r = call("POST", "/system/gc/schedule", {"schedule": {"type": "Manual"},
         "parameters": {"delete_untagged": False, "dry_run": True}})
jid = r.headers["Location"].rsplit("/", 1)[1]
while (job := json.load(call("GET", f"/jobs/{jid}")))["status"] not in ("Success", "Error", "Stopped"):
    time.sleep(0.005)
if job["status"] != "Success":
    sys.exit(f"GC dry run ended {job['status']}")
print("%.3f" % (time.monotonic() - t0))
PY
) "
    fi
  done
done
for who in small full; do
  R[$who.rss]=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/${PID[$who]}/status")
done

ratio() { [ -n "$1" ] && [ -n "$2" ] && echo "$1 / $2" | bc -l | xargs printf '%.2f' || echo -; }
echo
echo "metadata: ${DATABASE:-sqlite}; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $ROUNDS interleaved rounds of ${DURATION}s, medians"
printf '%-34s %14s %14s %10s   %s\n' "measure" "small" "full" "full/small" "rounds (small | full)"
for m in bytag:"manifest GET by tag" bydigest:"manifest GET by digest" tagpage:"tag list page (p0/big)" \
         catalog:"catalog page" artifacts:"artifacts, with_scan_overview" projects:"project list"; do
  k=${m%%:*}; name=${m#*:}
  want "$k" || continue
  e=$(median "${R[small.$k.rps]}"); f=$(median "${R[full.$k.rps]}")
  printf '%-34s %8s req/s %8s req/s %10s   %s| %s\n' "$name" "$e" "$f" "$(ratio "$f" "$e")" "${R[small.$k.rps]}" "${R[full.$k.rps]}"
  e=$(median "${R[small.$k.p99]}"); f=$(median "${R[full.$k.p99]}")
  printf '%-34s %11s ms %11s ms %10s   %s| %s\n' "  p99" "$e" "$f" "$(ratio "$f" "$e")" "${R[small.$k.p99]}" "${R[full.$k.p99]}"
  [ -z "$PG" ] || printf '%-34s %14s %14s %10s   %s| %s\n' "  SQL statements per request" "$(median "${R[small.$k.sql]}")" \
    "$(median "${R[full.$k.sql]}")" "" "${R[small.$k.sql]}" "${R[full.$k.sql]}"
done
for m in push:"push of a new small image" gc:"GC dry run"; do
  k=${m%%:*}; name=${m#*:}
  want "$k" || continue
  e=$(median "${R[small.$k]}"); f=$(median "${R[full.$k]}")
  printf '%-34s %12s s %12s s %10s   %s| %s\n' "$name" "$e" "$f" "$(ratio "$f" "$e")" "${R[small.$k]}" "${R[full.$k]}"
done
printf '%-34s %12s s %12s s   (empty registry: %s s)\n' "startup (until /v2/ answers)" "${R[small.startup]}" "${R[full.startup]}" "${R[empty.startup]}"
printf '%-34s %10s MiB %10s MiB   (empty registry: %s MiB)\n' "idle RSS (3 s after start)" "${R[small.idle]}" "${R[full.idle]}" "${R[empty.idle]}"
printf '%-34s %10s MiB %10s MiB\n' "RSS after the measures" "${R[small.rss]}" "${R[full.rss]}"
