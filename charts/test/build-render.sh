#!/usr/bin/env bash
# Builds charts/test/render (Helm's template engine: text/template + sprig) into $1
# from Debian's Go packages (golang-go, golang-github-masterminds-sprig-dev), offline:
# a GOPATH that maps sprig's and semver's /v3 import paths onto Debian's source trees.
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
gopath="$(dirname "$out")/render-gopath"
m="$gopath/src/github.com/Masterminds"
mkdir -p "$m/sprig" "$m/semver"
ln -sfn /usr/share/gocode/src/github.com/Masterminds/sprig "$m/sprig/v3"
ln -sfn /usr/share/gocode/src/github.com/Masterminds/semver "$m/semver/v3"
cd "$here/render"
GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS='' go build -o "$out" .
