#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 60) and prints, per
# target, the executions, executions per second and the corpus size at the end.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     run (all targets when none are named)
#   scripts/fuzz.sh --build                   only build the targets
#   scripts/fuzz.sh --cmin [TARGET...]        minimise the checked-in corpus (fuzz/corpus)
#
# The checked-in corpus is read, never written: new inputs go to a scratch copy under
# fuzz/target/ that is deleted afterwards (WHARF_FUZZ_KEEP=1 keeps it). A crash, hang
# (> WHARF_FUZZ_TIMEOUT s, default 10) or OOM (> WHARF_FUZZ_RSS_MB, default 2048) stops that
# target with its input in fuzz/artifacts/TARGET/ and makes the script exit 1 at the end.
#
# Build: libFuzzer through cargo-fuzz on the stable toolchain, with RUSTC_BOOTSTRAP=1 for the
# fuzz build only (sanitizer coverage flags). WHARF_FUZZ_SANITIZER (default address) is
# passed to `cargo fuzz -s` (address, none, ...); WHARF_FUZZ_DEV=1 builds unoptimised (CI).
# See fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
log() { echo "[fuzz.sh] $*" >&2; }

export RUSTC_BOOTSTRAP=1
SANITIZER=${WHARF_FUZZ_SANITIZER:-address}
TIMEOUT=${WHARF_FUZZ_TIMEOUT:-10}
RSS_MB=${WHARF_FUZZ_RSS_MB:-2048}
export WHARF_SHARED=${WHARF_SHARED:-$(cd ../.. && pwd)/shared}

if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

# one set of flags for build, run and cmin, so nothing is rebuilt between them
FUZZ_FLAGS=(-s "$SANITIZER")  # release build, debug assertions and overflow checks on (cargo-fuzz default)
# WHARF_FUZZ_DEV=1: an unoptimised build (`cargo fuzz --dev`). It compiles in a fraction of
# the release build's time (one codegen unit, full optimisation) and runs slower: what CI's
# short smoke run wants; long runs keep the release build.
if [ "${WHARF_FUZZ_DEV:-0}" = 1 ]; then
  FUZZ_FLAGS+=(--dev)
fi
all_targets() { cargo fuzz list; }

mode=run
case "${1:-}" in
  --build) mode=build; shift ;;
  --cmin) mode=cmin; shift ;;
esac
SECONDS_EACH=60
if [ "$mode" = run ] && [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  SECONDS_EACH=$1
  shift
fi
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(all_targets)

log "building ${#targets[@]} targets (sanitizer: $SANITIZER)"
cargo fuzz build "${FUZZ_FLAGS[@]}" >&2
[ "$mode" = build ] && exit 0

if [ "$mode" = cmin ]; then
  for t in "${targets[@]}"; do
    log "cmin $t"
    cargo fuzz cmin "${FUZZ_FLAGS[@]}" "$t" "corpus/$t" -- -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT" >&2
  done
  exit 0
fi

scratch=target/fuzz-scratch
failed=()
rows=()
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "corpus/$t" "artifacts/$t"
  out="$scratch/$t.log"
  log "$t: ${SECONDS_EACH}s"
  set +e
  cargo fuzz run "${FUZZ_FLAGS[@]}" "$t" "$scratch/$t" "corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" \
    -max_len=65536 -print_final_stats=1 >"$out" 2>&1
  rc=$?
  set -e
  execs=$(awk '/^stat::number_of_executed_units/ { print $NF }' "$out" | tail -1)
  rate=$(awk '/^stat::average_exec_per_sec/ { print $NF }' "$out" | tail -1)
  units=$(find "$scratch/$t" "corpus/$t" -type f | wc -l)
  status=ok
  if [ "$rc" != 0 ]; then
    status="FAILED (rc $rc; see fuzz/$out, fuzz/artifacts/$t)"
    failed+=("$t")
    grep -m 5 -E "panicked|ERROR: libFuzzer|SUMMARY|Test unit written" "$out" >&2 || true
  fi
  rows+=("$(printf '%-12s %12s %8s %8s  %s' "$t" "${execs:-?}" "${rate:-?}" "$units" "$status")")
  [ "${WHARF_FUZZ_KEEP:-0}" = 1 ] || rm -rf "${scratch:?}/$t"
  rmdir "artifacts/$t" 2>/dev/null || true
done

printf '%-12s %12s %8s %8s  %s\n' target executions exec/s corpus status
printf '%s\n' "${rows[@]}"
if ((${#failed[@]})); then
  log "failed: ${failed[*]}"
  exit 1
fi
