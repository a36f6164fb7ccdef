#!/usr/bin/env bash
# The air-gapped scenario, to watch: two local Wharf servers, "dev" (internet-facing)
# and "airgap". On dev, project `production`; an image pushed with a cosign signature,
# an attestation and an SPDX SBOM, plus a `dev-1` tag. A scheduled policy
# (`production/**`, tags `v*`, every 10 s) replicates to airgap. After its run:
# airgap serves production/app:v1 with the same digest, `wharf verify --key` and
# `wharf sbom fetch` work against airgap, and `dev-1` is not there.
# The vulnerability database travels too: dev imports advisories and publishes the DB as
# an OCI artifact (`wharf db push`), airgap starts with `--vuln-db-ref` pointing at it,
# and both sides' own scans of a replicated Python image (`pyapp` of the test images)
# report the same findings.
# Needs skopeo, the test images ($WHARF_TEST_IMAGES, default target/test-images) and the
# advisories under $WHARF_SHARED/vulndata (default ../shared).
# Uses target/release/wharf when built, else target/debug/wharf ($WHARF_BIN overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${WHARF_BIN:-target/release/wharf}
[ -x "$BIN" ] || BIN=target/debug/wharf
[ -x "$BIN" ] || { echo "build wharf first (cargo build --release)" >&2; exit 2; }
BIN=$(realpath "$BIN")
IMAGES=$(realpath "${WHARF_TEST_IMAGES:-target/test-images}")
SHARED=$(realpath "${WHARF_SHARED:-../shared}")
[ -d "$IMAGES/oci/pyapp" ] || { echo "no test images in $IMAGES (scripts/test.sh builds them)" >&2; exit 2; }
[ -d "$SHARED/vulndata/pypa/vulns" ] || { echo "no advisories in $SHARED/vulndata/pypa/vulns" >&2; exit 2; }
for tool in curl python3 sha256sum skopeo; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 2; }
done
PW=demo-Password-1
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 400); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }
digest() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
step() { printf '\n== %s\n' "$*"; }

start() { # name, then extra serve flags
  local port name=$1; shift
  port=$(free_port)
  "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$tmp/$name" --admin-password "$PW" "$@" >/dev/null 2>"$tmp/$name.log" &
  pids+=($!)
  wait_for "http://127.0.0.1:$port/v2/"
  echo "127.0.0.1:$port"
}
export WHARF_USERNAME=admin WHARF_PASSWORD=$PW COSIGN_PASSWORD=demo
api() { curl -fsS -u "admin:$PW" -H 'Content-Type: application/json' "$@"; }

step "dev: a vulnerability database from OSV advisories (PyPA), published as an OCI artifact"
"$BIN" db import osv "$SHARED/vulndata/pypa/vulns" --db "$tmp/vuln.db" | tail -1
DEV=$(start dev --vuln-db "$tmp/vuln.db")
api -X POST "http://$DEV/api/v2.0/projects" -d '{"project_name":"system"}'
"$BIN" db push --insecure --db "$tmp/vuln.db" "$DEV/system/vulndb:latest"

step "airgap: starts with --vuln-db-ref $DEV/system/vulndb:latest (pulled from dev)"
AIRGAP=$(start airgap --vuln-db-ref "$DEV/system/vulndb:latest" --vuln-db-insecure \
  --vuln-db-username admin --vuln-db-password "$PW")
for _ in $(seq 600); do [ -f "$tmp/airgap/vuln.db" ] && break; sleep 0.1; done
[ -f "$tmp/airgap/vuln.db" ] || { echo "airgap did not pull the database" >&2; exit 1; }
echo "dev: $DEV   airgap: $AIRGAP   (admin / $PW); airgap has the database"
api -X POST "http://$AIRGAP/api/v2.0/projects" -d '{"project_name":"production","metadata":{"auto_scan":"true"}}'

step "dev: project production, an image tagged v1 and dev-1"
api -X POST "http://$DEV/api/v2.0/projects" -d '{"project_name":"production","metadata":{"auto_scan":"true"}}'
push() { # tag seed
  printf '{"architecture":"amd64","os":"linux","seed":"%s"}' "$2" >"$tmp/config"
  printf 'layer of %s' "$2" >"$tmp/layer"
  for f in config layer; do
    curl -fsS -o /dev/null -u "admin:$PW" -X POST --data-binary "@$tmp/$f" -H 'Content-Type: application/octet-stream' \
      "http://$DEV/v2/production/app/blobs/uploads/?digest=$(digest "$tmp/$f")"
  done
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$(digest "$tmp/config")" "$(stat -c%s "$tmp/config")" "$(digest "$tmp/layer")" "$(stat -c%s "$tmp/layer")" >"$tmp/manifest"
  curl -fsS -o /dev/null -u "admin:$PW" -X PUT --data-binary "@$tmp/manifest" \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "http://$DEV/v2/production/app/manifests/$1"
  digest "$tmp/manifest"
}
V1=$(push v1 release)
push dev-1 nightly >/dev/null
echo "production/app:v1 = $V1"
skopeo copy -q --dest-tls-verify=false --dest-creds "admin:$PW" \
  "oci:$IMAGES/oci/pyapp:v1" "docker://$DEV/production/pyapp:v1"
echo "production/pyapp:v1 (a Python application with vulnerable packages) pushed"

step "dev: sign, attest and attach an SBOM to v1"
cd "$tmp"
"$BIN" key generate --output-key-prefix ci >/dev/null
echo '{"buildType":"https://example.com/ci"}' >prov.json
cat >sbom.spdx.json <<'EOF'
{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"app","documentNamespace":"https://example.com/spdx/app-v1","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: demo"]},"packages":[{"SPDXID":"SPDXRef-Package-zlib","name":"zlib","versionInfo":"1.3","downloadLocation":"NOASSERTION"}],"relationships":[]}
EOF
"$BIN" sign --insecure --key ci.key "$DEV/production/app:v1"
"$BIN" attest --insecure --key ci.key --predicate prov.json --type slsaprovenance "$DEV/production/app:v1"
"$BIN" sbom attach --insecure "$DEV/production/app:v1" --sbom sbom.spdx.json

step "dev: airgap as a registry endpoint, a scheduled policy (every 10 s)"
export WHARF_REGISTRY=$DEV
echo "$PW" | "$BIN" registry add airgap --url "http://$AIRGAP" --access-key admin --access-secret-stdin --insecure
"$BIN" replication policy add to-airgap --to 1 --repos 'production/**' --tags 'v*' \
  --trigger scheduled --cron '*/10 * * * * *' --insecure

step "waiting for the scheduled run"
for _ in $(seq 300); do
  status=$(api "http://$DEV/api/v2.0/replication/executions" | python3 -c 'import json,sys; e=json.load(sys.stdin); print(e[0]["status"] if e else "none")')
  case $status in Succeed) break ;; Failed|Stopped) echo "run $status" >&2; exit 1 ;; esac
  sleep 0.2
done
"$BIN" replication executions --insecure
EXEC=$(api "http://$DEV/api/v2.0/replication/executions" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
"$BIN" replication tasks "$EXEC" --insecure

step "airgap: same digest, signature verifies, SBOM fetched, dev-1 absent"
got=$(curl -fsS -u "admin:$PW" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$AIRGAP/v2/production/app/manifests/v1" | sha256sum | cut -d' ' -f1)
[ "sha256:$got" = "$V1" ] && echo "production/app:v1 at airgap = sha256:$got (same)"
unset WHARF_REGISTRY
"$BIN" verify --insecure --key ci.pub "$AIRGAP/production/app:v1" >/dev/null && echo "wharf verify --key ci.pub: verified at airgap"
"$BIN" verify-attestation --insecure --key ci.pub --type slsaprovenance "$AIRGAP/production/app:v1" >/dev/null \
  && echo "wharf verify-attestation: verified at airgap"
"$BIN" sbom fetch --insecure "$AIRGAP/production/app:v1" | cmp - sbom.spdx.json && echo "SBOM fetched from airgap: identical"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" "http://$AIRGAP/v2/production/app/manifests/dev-1")
[ "$code" = 404 ] && echo "production/app:dev-1 at airgap: 404 (filtered out)"

step "both sides scanned production/pyapp:v1 with their own copy of the database"
findings() { # host: "CVE package version" lines, sorted, once the scan has ended
  local a="http://$1/api/v2.0/projects/production/repositories/pyapp/artifacts/v1"
  for _ in $(seq 600); do
    s=$(api "$a?with_scan_overview=true" | python3 -c 'import json,sys; a=json.load(sys.stdin); print((a.get("scan_overview") or {}).get("application/vnd.security.vulnerability.report; version=1.1",{}).get("scan_status",""))')
    [ "$s" = Success ] && break
    [ "$s" = Error ] && { echo "scan failed at $1" >&2; exit 1; }
    sleep 0.2
  done
  api "$a/additions/vulnerabilities" | python3 -c 'import json,sys
r=json.load(sys.stdin)["application/vnd.security.vulnerability.report; version=1.1"]
for v in sorted(r["vulnerabilities"], key=lambda v:(v["id"],v["package"])): print(v["id"], v["package"], v["version"])'
}
findings "$DEV" >"$tmp/dev.findings"
findings "$AIRGAP" >"$tmp/airgap.findings"
echo "dev found $(wc -l <"$tmp/dev.findings"), airgap found $(wc -l <"$tmp/airgap.findings"):"
sed 's/^/  /' "$tmp/airgap.findings"
[ -s "$tmp/dev.findings" ] || { echo "dev found nothing: the scan did not run" >&2; exit 1; }
cmp -s "$tmp/dev.findings" "$tmp/airgap.findings" && echo "the same findings on both sides" \
  || { echo "the findings differ" >&2; diff "$tmp/dev.findings" "$tmp/airgap.findings" >&2; exit 1; }
echo
echo "done"
