#!/usr/bin/env bash
# The Security Hub at scale: "which images contain CVE-X" and the summary, on a
# registry holding ARTIFACTS artifacts (default 10,000) with FINDINGS findings
# each (default 100, drawn from a pool of 3,000 vulnerability ids), i.e. about a
# million indexed findings.
#
# The registry is filled directly in its SQLite database (as successful scans
# would have left it: manifests, scan_reports, scan_findings, vulnerabilities),
# because scanning 10,000 real images would take hours and measure the scanner,
# not the query. Then `wharf serve` (release) answers, and each request is timed
# with curl: median and p95 of RUNS runs (default 20).
# Usage: scripts/bench-security-hub.sh   (needs: python3 curl; builds --release)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ARTIFACTS=${ARTIFACTS:-10000}
FINDINGS=${FINDINGS:-100}
RUNS=${RUNS:-20}
PW=Bench12345
cargo build --release --quiet
WHARF=$ROOT/target/release/wharf
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

start() {
  WHARF_ADMIN_PASSWORD=$PW WHARF_LOG=warn "$WHARF" serve --auth --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >>"$WORK/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PORT/v2/" -o /dev/null -w '' 2>/dev/null && return 0;
    curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/" 2>/dev/null | grep -q 401 && return 0; sleep 0.1; done
  echo "wharf serve did not come up:" >&2; cat "$WORK/serve.log" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

# 1. An empty registry creates its schema; stop it and fill the database.
start; stop
echo "filling: $ARTIFACTS artifacts x $FINDINGS findings" >&2
t0=$(date +%s.%N)
python3 - "$WORK/data/wharf.db" "$ARTIFACTS" "$FINDINGS" <<'EOF'
import hashlib, json, random, sqlite3, sys, time
db, n_art, n_find = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
c = sqlite3.connect(db)
c.execute("PRAGMA foreign_keys=OFF")
now = int(time.time())
pid = c.execute("SELECT id FROM projects WHERE name='library'").fetchone()[0]
pool = [f"CVE-2024-{10000 + i}" for i in range(3000)]
sev = {v: random.choice([1, 2, 3, 3, 4, 4, 5]) for v in pool}
cvss = {v: round(random.uniform(1, 10), 1) for v in pool}
c.executemany("INSERT INTO vulnerabilities (id, severity, cvss_v3, description, links) VALUES (?, ?, ?, ?, ?)",
              [(v, sev[v], cvss[v], f"description of {v}", json.dumps([f"https://nvd.nist.gov/vuln/detail/{v}"])) for v in pool])
for a in range(n_art):
    repo = f"library/app{a // 10}"
    rid = c.execute("SELECT id FROM repositories WHERE name=?", (repo,)).fetchone()
    if rid is None:
        rid = c.execute("INSERT INTO repositories (name, created_at, project_id) VALUES (?, ?, ?)", (repo, now, pid)).lastrowid
    else:
        rid = rid[0]
    body = json.dumps({"schemaVersion": 2, "n": a}).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    mid = c.execute("INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) VALUES (?, ?, 'application/vnd.oci.image.manifest.v1+json', ?, ?, ?)",
                    (rid, digest, len(body), body, now)).lastrowid
    c.execute("INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)", (rid, f"v{a % 10}", mid, now))
    vulns = random.sample(pool, n_find)
    counts = {}
    for v in vulns:
        counts[sev[v]] = counts.get(sev[v], 0) + 1
    names = {1: "UNKNOWN", 2: "LOW", 3: "MEDIUM", 4: "HIGH", 5: "CRITICAL"}
    summary = {"total": n_find, "fixable": n_find // 2, "by_severity": {names[k]: n for k, n in counts.items()}}
    c.execute("INSERT INTO scan_reports (digest, repository, status, severity, summary, report, db_version, requested_at, started_at, ended_at) VALUES (?, ?, 'Success', ?, ?, NULL, 'bench', ?, ?, ?)",
              (digest, repo, names[max(counts)], json.dumps(summary), now, now, now))
    c.executemany("INSERT INTO scan_findings (digest, vuln_id, package, version, fixed_version, severity, cvss_v3, status) VALUES (?, ?, ?, '1.0', ?, ?, ?, 'fixed')",
                  [(digest, v, f"pkg{hash(v) % 500}", "1.1" if i % 2 else "", sev[v], cvss[v]) for i, v in enumerate(vulns)])
c.commit()
c.execute("ANALYZE")
c.commit()
EOF
t1=$(date +%s.%N)
echo "filled in $(python3 -c "print(round($t1-$t0,1))") s" >&2
start

# 2. Time each request RUNS times (after one warm-up).
timeit() { # name path
  local url="http://127.0.0.1:$PORT/api/v2.0$2" times=()
  curl -sf -u "admin:$PW" "$url" -o "$WORK/out.json" -D "$WORK/headers" || { echo "$1 failed" >&2; cat "$WORK/out.json" >&2; exit 1; }
  local total; total=$(awk 'tolower($1)=="x-total-count:" {print $2}' "$WORK/headers" | tr -d '\r')
  for _ in $(seq "$RUNS"); do
    times+=("$(curl -sf -u "admin:$PW" "$url" -o /dev/null -w '%{time_total}')")
  done
  printf '%s\n' "${times[@]}" | python3 -c "
import sys, statistics
t = sorted(float(x) * 1000 for x in sys.stdin)
p95 = t[min(len(t) - 1, int(len(t) * 0.95))]
print(f'%-48s median %7.1f ms   p95 %7.1f ms   %s' % ('$1', statistics.median(t), p95, 'total=$total' if '$total' else ''))"
}
echo
echo "Security Hub, $ARTIFACTS artifacts, $((ARTIFACTS * FINDINGS)) findings:"
timeit "vul ?q=cve_id=CVE-2024-10042" "/security/vul?q=cve_id%3DCVE-2024-10042"
timeit "vul ?q=cve_id=…&with_tag=true (page 100)" "/security/vul?q=cve_id%3DCVE-2024-10042&with_tag=true&page_size=100"
timeit "vul ?q=cve_id=…,repository_name=…" "/security/vul?q=cve_id%3DCVE-2024-10042%2Crepository_name%3Dlibrary%2Fapp7"
timeit "vul ?q=package=pkg7" "/security/vul?q=package%3Dpkg7&tune_count=true"
timeit "vul ?q=severity=Critical&tune_count=true" "/security/vul?q=severity%3DCritical&tune_count=true"
timeit "vul (no filter, tune_count)" "/security/vul?tune_count=true"
timeit "summary" "/security/summary"
timeit "summary with dangerous CVEs and artifacts" "/security/summary?with_dangerous_cve=true&with_dangerous_artifact=true"
echo "RSS after: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$PID/status)"
