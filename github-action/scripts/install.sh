#!/usr/bin/env bash
# Puts a wharf binary on PATH for the rest of the job and exports WHARF_BIN.
# Order: the `wharf-path` input, a wharf already on PATH, else the pinned release
# archive, downloaded and checked against its sha256 (the `sha256` input, else the
# action's checksums.txt) before anything in it is run.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

bin=""
if [ -n "${WHARF_PATH:-}" ]; then
  [ -x "$WHARF_PATH" ] || die "wharf-path $WHARF_PATH is not an executable file"
  bin=$(cd "$(dirname "$WHARF_PATH")" && pwd)/$(basename "$WHARF_PATH")
elif command -v wharf >/dev/null; then
  bin=$(command -v wharf)
else
  case "$(uname -m)" in
    x86_64) target=x86_64-unknown-linux-gnu ;;
    aarch64 | arm64) target=aarch64-unknown-linux-gnu ;;
    *) die "no Wharf release for $(uname -m)" ;;
  esac
  archive="wharf-${WHARF_VERSION}-${target}.tar.gz"
  want=${WHARF_SHA256:-}
  if [ -z "$want" ]; then
    want=$(awk -v f="$archive" '$1 !~ /^#/ && $2 == f { print $1 }' "$ACTION_PATH/checksums.txt")
  fi
  [ -n "$want" ] || die "no sha256 pinned for $archive: give the sha256 input or add it to checksums.txt"
  dest="${RUNNER_TOOL_CACHE:-$RUNNER_TEMP}/wharf/${WHARF_VERSION}/${target}"
  if [ ! -x "$dest/wharf" ]; then
    tmp=$(mktemp -d "$RUNNER_TEMP/wharf-install.XXXXXX")
    curl -fsSL --retry 3 -o "$tmp/$archive" "${WHARF_RELEASE_URL%/}/v${WHARF_VERSION}/$archive" \
      || die "downloading ${WHARF_RELEASE_URL%/}/v${WHARF_VERSION}/$archive failed"
    got=$(sha256sum "$tmp/$archive" | cut -d' ' -f1)
    [ "$got" = "$want" ] || die "sha256 mismatch for $archive: expected $want, got $got"
    mkdir -p "$dest"
    tar -xzf "$tmp/$archive" -C "$dest" wharf
    rm -rf "$tmp"
  fi
  bin="$dest/wharf"
fi
version=$("$bin" --version) || die "$bin --version failed"
echo "Using $version at $bin"
echo "WHARF_BIN=$bin" >>"$GITHUB_ENV"
dirname "$bin" >>"$GITHUB_PATH"
output path "$bin"
output version "${version#wharf }"
