#!/usr/bin/env bash
# Regenerate link/symbol-order.txt: the functions `wharf serve` runs, in the order
# the linker should lay them out (build.rs hands the file to the linker).
#
# Why: the kernel maps an executable's code 64 KiB at a time around each page it
# faults in. Left where rustc and the linker put them, the ~4,000 functions a server
# runs to start are spread over the whole 32 MiB text segment, and an idle empty
# registry had 15.5 MiB of code resident for 3.3 MB of functions it ran. Laid out
# together they take ~6 MiB (docs/design.md, "Code laid out by use").
#
# How: a release build runs under valgrind's callgrind (Debian's `valgrind`), which
# records every function that executes. Three groups, each kept in the binary's
# present address order (which keeps each crate's neighbours together):
#   1. start-up and 3 s idle (with the readiness probe `GET /v2/`);
#   2. what requests run: a skopeo push and pull, a monolithic and a chunked blob
#      upload, a blob GET, the catalog, a tag list, Harbor's project, repository and
#      artifact lists, a token;
#   3. what the shutdown runs.
# A name is listed once, in the first group that runs it.
#
# The names are mangled with a hash of each crate's build (its version, features,
# profile and the compiler's version), so after `cargo update` or a new toolchain
# some names no longer exist: the linker skips them silently and the layout slowly
# returns to the default. Run this script again then; `CHECK=1` only counts how
# many listed names the current release binary still has.
#
# Usage: scripts/link-order.sh           (builds target/release/wharf first)
#        NO_BUILD=1 scripts/link-order.sh
#        CHECK=1 scripts/link-order.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
IMAGES=${WHARF_TEST_IMAGES:-$ROOT/target/test-images}
ORDER=$ROOT/link/symbol-order.txt
WHARF=$ROOT/target/release/wharf

if [ -n "${CHECK:-}" ]; then
  [ -x "$WHARF" ] || { echo "no $WHARF: cargo build --release first" >&2; exit 1; }
  nm --defined-only "$WHARF" | awk '{print $3}' | sort -u > /tmp/wharf-syms.$$
  total=$(grep -cv '^#' "$ORDER")
  found=$(grep -v '^#' "$ORDER" | sort -u | comm -12 - /tmp/wharf-syms.$$ | wc -l)
  rm -f /tmp/wharf-syms.$$
  echo "$found of $total listed functions are in $WHARF"
  exit 0
fi

for cmd in valgrind callgrind_control skopeo curl jq; do
  command -v $cmd >/dev/null || { echo "missing $cmd (apt-get install valgrind skopeo curl jq)" >&2; exit 1; }
done
[ -f "$IMAGES/oci/small/index.json" ] || { echo "no test images in $IMAGES (scripts/test.sh builds them)" >&2; exit 1; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked --bin wharf

WORK=$(mktemp -d)
SERVER=""
cleanup() { [ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
PW=Order12345
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT

cd "$WORK"
WHARF_ADMIN_PASSWORD=$PW WHARF_LOG=warn valgrind --tool=callgrind --demangle=no \
  --callgrind-out-file="$WORK/cg.%p" "$WHARF" serve --auth --listen "127.0.0.1:$PORT" \
  --data-dir "$WORK/data" >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v2/")" = 401 ] && break
  sleep 0.2
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v2/")" = 401 ] || { cat "$WORK/serve.log" >&2; exit 1; }
sleep 3
callgrind_control --dump=startup "$SERVER" >/dev/null

# Requests, as clients make them.
creds="admin:$PW"
skopeo copy -q --dest-tls-verify=false --dest-creds "$creds" \
  "oci:$IMAGES/oci/small" "docker://127.0.0.1:$PORT/library/small:v1"
skopeo copy -q --src-tls-verify=false --src-creds "$creds" \
  "docker://127.0.0.1:$PORT/library/small:v1" "oci:$WORK/pulled:v1"
head -c $((24 * 1024 * 1024)) /dev/urandom > blob
digest=sha256:$(sha256sum blob | cut -d' ' -f1)
with_digest() { case $1 in *\?*) echo "$1&digest=$2" ;; *) echo "$1?digest=$2" ;; esac; }
loc=$(curl -s -u "$creds" -o /dev/null -w '%header{location}' -X POST "$BASE/v2/library/blobs/blobs/uploads/")
curl -sf -u "$creds" -o /dev/null -T blob "$BASE$(with_digest "$loc" "$digest")"
head -c $((12 * 1024 * 1024)) /dev/urandom > blob2
digest2=sha256:$(sha256sum blob2 | cut -d' ' -f1)
loc=$(curl -s -u "$creds" -o /dev/null -w '%header{location}' -X POST "$BASE/v2/library/blobs/blobs/uploads/")
head -c $((8 * 1024 * 1024)) blob2 > part1; tail -c +$((8 * 1024 * 1024 + 1)) blob2 > part2
loc=$(curl -s -u "$creds" -o /dev/null -w '%header{location}' -X PATCH -H 'Content-Type: application/octet-stream' \
  -H "Content-Range: 0-$((8 * 1024 * 1024 - 1))" --data-binary @part1 "$BASE$loc")
loc=$(curl -s -u "$creds" -o /dev/null -w '%header{location}' -X PATCH -H 'Content-Type: application/octet-stream' \
  -H "Content-Range: $((8 * 1024 * 1024))-$((12 * 1024 * 1024 - 1))" --data-binary @part2 "$BASE$loc")
curl -sf -u "$creds" -o /dev/null -X PUT "$BASE$(with_digest "$loc" "$digest2")"
curl -sf -u "$creds" -o /dev/null "$BASE/v2/library/blobs/blobs/$digest"
token=$(curl -s -u "$creds" "$BASE/service/token?service=wharf&scope=repository:library/small:pull" | jq -r .token)
curl -s -H "Authorization: Bearer $token" -o /dev/null "$BASE/v2/library/small/tags/list?n=10"
curl -s -H "Authorization: Bearer $token" -o /dev/null "$BASE/v2/library/small/manifests/v1"
curl -s -u "$creds" -o /dev/null "$BASE/v2/_catalog?n=10"
for path in projects projects/library/repositories \
  "projects/library/repositories/small/artifacts?with_scan_overview=true&with_tag=true"; do
  curl -s -u "$creds" -o /dev/null "$BASE/api/v2.0/$path"
done
callgrind_control --dump=requests "$SERVER" >/dev/null
kill -TERM "$SERVER"
wait "$SERVER" || true
SERVER=""

# Function names per dump, in the order the dumps were written; each group sorted
# by the function's present address.
python3 - "$WHARF" "$ORDER" "$WORK"/cg.* <<'EOF'
import re, subprocess, sys
# callgrind writes cg.PID.1, cg.PID.2 for the two dumps asked for, and cg.PID at exit.
def rank(path):
    suffix = path.rsplit("/", 1)[-1].split(".")[2:]
    return int(suffix[0]) if suffix else 1 << 30
exe, order, dumps = sys.argv[1], sys.argv[2], sorted(sys.argv[3:], key=rank)
addr = {}
for line in subprocess.run(["nm", "--defined-only", exe], capture_output=True, text=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tTwW":
        addr[parts[2]] = int(parts[0], 16)
seen, groups = set(), []
for dump in dumps:
    names = set()
    for line in open(dump, errors="replace"):
        m = re.match(r"^c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
        if m and m.group(1) in addr:
            names.add(m.group(1))
    group = sorted(names - seen, key=addr.get)
    seen |= names
    groups.append((dump, group))
with open(order, "w") as out:
    out.write("# Generated by scripts/link-order.sh: the functions `wharf serve` runs, start-up\n"
              "# first, then requests, then shutdown. The linker lays them out in this order\n"
              "# (build.rs). Regenerate after `cargo update` or a new toolchain.\n")
    for _, group in groups:
        out.write("\n".join(group) + "\n")
for dump, group in groups:
    print(f"{dump.rsplit('/', 1)[-1]}: {len(group)} functions")
EOF
echo "wrote $ORDER" >&2
