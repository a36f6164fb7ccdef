#!/usr/bin/env bash
# The portal's pages on a registry with REPOS repositories (default 1,000) in one
# project, ARTIFACTS artifacts each (default 2, every one with a successful scan
# summary) and 30 more projects: each main page requested RUNS times (default 20,
# after one warm-up) with a logged-in session; median and p95 of curl's total time
# on the loopback (the server's time plus well under a millisecond). Target: every
# page under 200 ms.
#
# The database is filled directly (as pushes and scans would have left it), because
# pushing 2,000 images would measure the push path, not the pages.
# Usage: scripts/bench-portal.sh   (needs python3, curl; builds --release unless
# WHARF=path/to/wharf is given)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REPOS=${REPOS:-1000}
ARTIFACTS=${ARTIFACTS:-2}
RUNS=${RUNS:-20}
PW=Bench12345
if [ -z "${WHARF:-}" ]; then
  cargo build --release --quiet
  WHARF=$ROOT/target/release/wharf
fi
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"

start() {
  WHARF_ADMIN_PASSWORD=$PW WHARF_LOG=warn "$WHARF" serve --auth --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >>"$WORK/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 200); do
    curl -s -o /dev/null -w '%{http_code}' "$BASE/v2/" 2>/dev/null | grep -q 401 && return 0; sleep 0.1; done
  echo "wharf serve did not come up:" >&2; cat "$WORK/serve.log" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

# 1. An empty registry creates its schema; stop it and fill the database.
start; stop
echo "filling: $REPOS repositories x $ARTIFACTS artifacts" >&2
python3 - "$WORK/data/wharf.db" "$REPOS" "$ARTIFACTS" > "$WORK/digest" <<'PY'
import hashlib, json, sqlite3, sys, time
db, n_repo, n_art = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = sqlite3.connect(db)
now = int(time.time())
pid = c.execute("SELECT id FROM projects WHERE name='library'").fetchone()[0]
for i in range(30):
    c.execute("INSERT INTO projects (name, public, created_at) VALUES (?, 0, ?)", (f"team{i}", now))
first = None
for r in range(n_repo):
    repo = f"library/app{r}"
    rid = c.execute("INSERT INTO repositories (name, created_at, project_id) VALUES (?, ?, ?)", (repo, now, pid)).lastrowid
    for a in range(n_art):
        layer = "sha256:" + hashlib.sha256(f"layer{r}-{a}".encode()).hexdigest()
        body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": layer, "size": 10},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": 1000}]}).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        mid = c.execute("INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) VALUES (?, ?, 'application/vnd.oci.image.manifest.v1+json', ?, ?, ?)",
                        (rid, digest, len(body), body, now)).lastrowid
        c.execute("INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)", (rid, f"v{a}", mid, now))
        if first is None:
            first = digest  # left unscanned: its page has no stored report to render
            continue
        summary = {"total": 12, "fixable": 5, "by_severity": {"CRITICAL": 1, "HIGH": 3, "MEDIUM": 5, "LOW": 3}}
        c.execute("INSERT INTO scan_reports (digest, repository, status, severity, summary, report, db_version, requested_at, started_at, ended_at) VALUES (?, ?, 'Success', 'CRITICAL', ?, NULL, 'bench', ?, ?, ?)",
                  (digest, repo, json.dumps(summary), now, now, now))
c.commit()
c.execute("ANALYZE")
c.commit()
print(first)
PY
DIGEST=$(cat "$WORK/digest")
start

# 2. Log in once (the session cookie goes in a jar), then time each page.
code=$(curl -s -c "$WORK/jar" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
  --data "username=admin&password=$PW" "$BASE/login")
[ "$code" = 303 ] || { echo "login failed: $code" >&2; exit 1; }
timeit() { # name path
  local url="$BASE$2" times=()
  code=$(curl -s -b "$WORK/jar" -o "$WORK/page.html" -w '%{http_code}' "$url")
  [ "$code" = 200 ] || { echo "$1: HTTP $code" >&2; head -c 2000 "$WORK/page.html" >&2; exit 1; }
  for _ in $(seq "$RUNS"); do
    times+=("$(curl -s -b "$WORK/jar" "$url" -o /dev/null -w '%{time_total}')")
  done
  printf '%s\n' "${times[@]}" | python3 -c "
import sys, statistics
t = sorted(float(x) * 1000 for x in sys.stdin)
p95 = t[min(len(t) - 1, int(len(t) * 0.95))]
print(f'%-44s median %7.1f ms   p95 %7.1f ms' % ('$1', statistics.median(t), p95))"
}
echo
echo "Portal pages, $REPOS repositories x $ARTIFACTS artifacts in one project, 31 projects ($WHARF):"
timeit "projects" "/projects"
timeit "projects ?q=team1" "/projects?q=team1"
timeit "project: repositories, page 1 of 20" "/projects/library"
timeit "project: repositories, page 20" "/projects/library?page=20"
timeit "repository (2 artifacts, scan summaries)" "/projects/library/repos/app500"
timeit "artifact (layers, history, SBOM, pull gate, signatures, referrers)" "/projects/library/repos/app0/-/$DIGEST"
timeit "settings" "/projects/library/settings"
timeit "retention" "/projects/library/retention"
timeit "members" "/projects/library/members"
timeit "webhooks" "/projects/library/webhooks"
timeit "logs" "/projects/library/logs"
timeit "search ?q=app99 (every repository read)" "/search?q=app99"
# The administration pages (system administrators).
timeit "admin: users" "/admin/users"
timeit "admin: users ?q=adm" "/admin/users?q=adm"
timeit "admin: registry endpoints" "/admin/registries"
timeit "admin: replication policies" "/admin/replication"
timeit "admin: garbage collection" "/admin/gc"
timeit "admin: vulnerability DB" "/admin/vulndb"
timeit "admin: system CVE allow-list" "/admin/allowlist"
timeit "admin: audit log" "/admin/audit"
timeit "admin: audit log ?operation=create" "/admin/audit?operation=create"
timeit "admin: settings" "/admin/settings"
echo "RSS after: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$PID/status)"
