#!/usr/bin/env bash
# The vulnerability DB's digest names its cache entry: a new DB pushed under the same
# tag gets a new key, an unchanged one is restored without touching the registry again.
# Outputs: digest, pinned (REPO@DIGEST, what is pulled: the bytes the key names), dir.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/resolve.sh"

dir=${CACHE_DIR/#\~/$HOME}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
digest=$(resolve_digest "$DB_REF")
echo "Vulnerability DB $DB_REF is $digest"
output digest "$digest"
output pinned "$(ref_repository "$DB_REF")@$digest"
output dir "$dir"
