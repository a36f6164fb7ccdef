#!/usr/bin/env bash
# Scale-out: one `wharf serve` against three, in one run, on one PostgreSQL and one
# S3 bucket (moto's S3 server, as the tests use), release build.
#   idle RSS of each replica (3 s after start);
#   N small images (each its own random layer, made here as OCI layouts) pushed with
#     skopeo, PARALLEL at a time, round-robin over the replicas: images/s;
#   manifest GET by tag: three wrk at once (1 thread, CONNS connections each), the
#     i-th against replica i mod n, requests/s summed, worst p99;
#   PostgreSQL statements per request during the GETs and per image during the pushes
#     (pg_stat_statements: every statement of the registry's database, background
#     work included).
# With 1 replica the same three wrk all hit it, so both runs offer the same load.
# Usage: scripts/bench-replicas.sh
#   IMAGES_N=60  PARALLEL=6  DURATION=10  CONNS=8  REPLICAS="1 3"
#   NO_BUILD=1   use target/release/wharf as it is
# Needs: PostgreSQL (Debian's postgresql), moto_server (pip install 'moto[server]'),
# wrk, skopeo, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
IMAGES_N=${IMAGES_N:-60}
PARALLEL=${PARALLEL:-6}
DURATION=${DURATION:-10}
CONNS=${CONNS:-8}
REPLICAS=${REPLICAS:-"1 3"}
for t in wrk skopeo curl python3 moto_server; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install wrk skopeo; pip install 'moto[server]')" >&2; exit 1; }
done
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "missing PostgreSQL (apt-get install postgresql)" >&2; exit 1; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet --bin wharf
WHARF=$ROOT/target/release/wharf
WORK=$(mktemp -d)
chmod 755 "$WORK"
PW=Bench12345
PIDS=()
PG_PID=
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$PG_PID" ]; then kill -INT "$PG_PID" 2>/dev/null || true; while kill -0 "$PG_PID" 2>/dev/null; do sleep 0.1; done; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }

# PostgreSQL with its default durability (fsync on), statements counted.
mkdir -p "$WORK/pg"; [ "$(id -u)" = 0 ] && chown nobody: "$WORK/pg"
as_pg "$PGBIN/initdb" --auth=trust -U wharf -D "$WORK/pg/data" >/dev/null
PG_PORT=$(free_port)
as_pg "$PGBIN/postgres" -D "$WORK/pg/data" -p "$PG_PORT" -k "$WORK/pg" -c listen_addresses=127.0.0.1 \
  -c max_connections=200 -c shared_preload_libraries=pg_stat_statements >"$WORK/pg.log" 2>&1 &
PG_PID=$!
for _ in $(seq 300); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.1; done
psql_q() { "$PGBIN/psql" -X -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U wharf "$@"; }

S3_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$S3_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1

# The key every replica shares (tokens of one are accepted by the others).
head -c 32 /dev/urandom >"$WORK/secret.key"

# IMAGES_N small images, each a config and one random 64 KiB layer (uncompressed tar).
echo "making $IMAGES_N images..." >&2
python3 - "$WORK/images" "$IMAGES_N" <<'PY'
import hashlib, io, json, os, sys, tarfile
root, n = sys.argv[1], int(sys.argv[2])
def blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    os.makedirs(f"{layout}/blobs/sha256", exist_ok=True)
    open(f"{layout}/blobs/sha256/{d}", "wb").write(data)
    return {"digest": f"sha256:{d}", "size": len(data)}
for i in range(n):
    layout = f"{root}/img{i}"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = os.urandom(64 * 1024)
        info = tarfile.TarInfo(f"data/{i}.bin"); info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    layer = blob(layout, buf.getvalue())
    diff = layer["digest"]
    config = blob(layout, json.dumps({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff]}, "config": {}}).encode())
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}]}).encode()
    m = blob(layout, manifest)
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        **m, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, open(f"{layout}/index.json", "w"))
    open(f"{layout}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY

statements() { psql_q -d "$1" -c "SELECT coalesce(sum(calls),0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$1'"; }

declare -A R
for n in $REPLICAS; do
  db=bench_$n; bucket=bench-$n
  psql_q -d postgres -c "CREATE DATABASE $db" >/dev/null
  psql_q -d "$db" -c "CREATE EXTENSION pg_stat_statements" >/dev/null
  curl -sf -X PUT "http://127.0.0.1:$S3_PORT/$bucket" >/dev/null
  ports=(); pids=()
  for i in $(seq 0 $((n - 1))); do
    port=$(free_port); ports+=("$port")
    WHARF_ADMIN_PASSWORD=$PW WHARF_LOG_LEVEL=warn WHARF_DATABASE="postgres://wharf@127.0.0.1:$PG_PORT/$db" \
      "$WHARF" serve --auth --listen "127.0.0.1:$port" --data-dir "$WORK/data-$n-$i" \
      --storage "s3://$bucket/registry" --s3-endpoint "http://127.0.0.1:$S3_PORT" --s3-allow-http \
      --secret-key-file "$WORK/secret.key" >"$WORK/wharf-$n-$i.log" 2>&1 &
    pids+=($!); PIDS+=($!)
    # One at a time: the first creates the schema.
    for _ in $(seq 600); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/")" = 401 ] && break; sleep 0.05; done
  done
  sleep 3
  rss=()
  for p in "${pids[@]}"; do rss+=("$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$p/status")"); done
  R[$n.idle]=$(IFS=/; echo "${rss[*]}")
  base=http://127.0.0.1:${ports[0]}
  curl -sf -u "admin:$PW" -H 'Content-Type: application/json' -X POST "$base/api/v2.0/projects" \
    -d '{"project_name":"bench","metadata":{"public":"false"}}' >/dev/null

  echo "[$n replica(s)] pushing $IMAGES_N images, $PARALLEL at a time, round-robin" >&2
  before=$(statements "$db")
  t0=$(date +%s.%N)
  seq 0 $((IMAGES_N - 1)) | PORTS="${ports[*]}" IMG="$WORK/images" PW=$PW xargs -P "$PARALLEL" -I{} bash -c '
    read -ra p <<<"$PORTS"; port=${p[$(( {} % ${#p[@]} ))]}
    skopeo --insecure-policy copy -q --dest-tls-verify=false --dest-creds "admin:$PW" \
      "oci:$IMG/img{}:v1" "docker://127.0.0.1:$port/bench/img{}:v1"'
  secs=$(echo "$(date +%s.%N) - $t0" | bc -l)
  R[$n.push]=$(echo "$IMAGES_N / $secs" | bc -l | xargs printf '%.1f')
  R[$n.pushs]=$(printf '%.1f' "$secs")
  R[$n.pushq]=$(echo "($(statements "$db") - $before) / $IMAGES_N" | bc -l | xargs printf '%.0f')
  # Every image is served by every replica (pushed through another one).
  for port in "${ports[@]}"; do
    for i in 0 $((IMAGES_N - 1)); do
      code=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://127.0.0.1:$port/v2/bench/img$i/manifests/v1")
      [ "$code" = 200 ] || { echo "bench/img$i: $code from replica on $port" >&2; exit 1; }
    done
  done

  echo "[$n replica(s)] manifest GET by tag: 3 wrk x $CONNS connections, ${DURATION}s" >&2
  # One token (issued by the first replica) for every wrk: the replicas share the key.
  TOKEN=$(curl -s -u "admin:$PW" "$base/service/token?service=wharf&scope=repository:bench/img0:pull&scope=repository:bench/img1:pull&scope=repository:bench/img2:pull" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  before=$(statements "$db")
  outs=()
  for j in 0 1 2; do
    port=${ports[$((j % n))]}
    wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" \
      -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
      "http://127.0.0.1:$port/v2/bench/img$j/manifests/v1" >"$WORK/wrk-$n-$j.txt" &
    outs+=($!)
  done
  wait "${outs[@]}"
  queries=$(( $(statements "$db") - before ))
  total=0; reqs=0; p99=0
  for j in 0 1 2; do
    f=$WORK/wrk-$n-$j.txt
    if grep -q Non-2xx "$f"; then echo "non-2xx answers:" >&2; cat "$f" >&2; exit 1; fi
    total=$(echo "$total + $(awk '/Requests\/sec/ {print $2}' "$f")" | bc -l)
    reqs=$(( reqs + $(awk '/requests in/ {print $1}' "$f") ))
    q=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$f")
    p99=$(echo "if ($q > $p99) $q else $p99" | bc -l)
  done
  R[$n.get]=$(printf '%.0f' "$total")
  R[$n.p99]=$(printf '%.1f' "$p99")
  R[$n.getq]=$(echo "$queries / $reqs" | bc -l | xargs printf '%.2f')
  for p in "${pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
done

echo
echo "$(nproc) cores; load average before the summary: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-46s' "replicas"; for n in $REPLICAS; do printf '%16s' "$n"; done; echo
row() { printf '%-46s' "$1"; for n in $REPLICAS; do printf '%16s' "${R[$n.$2]}"; done; echo; }
row "idle RSS per replica (MiB)" idle
row "pushes: images/s ($IMAGES_N images, $PARALLEL at a time)" push
row "  seconds" pushs
row "  SQL statements per image" pushq
row "manifest GET by tag: requests/s (sum)" get
row "  worst p99 (ms)" p99
row "  SQL statements per GET" getq
