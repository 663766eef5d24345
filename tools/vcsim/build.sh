#!/usr/bin/env bash
# Builds tools/vcsim offline from Debian's govmomi sources (GOPATH mode) and prints the binary's path.
# The binary is cached in tools/vcsim/bin/ under a name keyed by the Go version and the sources' hash,
# so a second call (or the test fixtures) reuses it. Needs: golang-go golang-github-vmware-govmomi-dev.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GO="$(command -v go || echo /usr/bin/go)"
GOCODE=/usr/share/gocode
[ -x "$GO" ] || { echo "vcsim build: go not installed (apt-get install golang-go)" >&2; exit 2; }
[ -d "$GOCODE/src/github.com/vmware/govmomi/simulator" ] || {
  echo "vcsim build: govmomi sources missing (apt-get install golang-github-vmware-govmomi-dev)" >&2; exit 2; }
KEY="$( { "$GO" version; for f in "$HERE"/*.go; do basename "$f"; cat "$f"; done; } | sha256sum | cut -c1-16)"
BIN="$HERE/bin/vcsim-$KEY"
if [ ! -x "$BIN" ]; then
  mkdir -p "$HERE/bin"
  (cd "$HERE" && GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$HERE/bin/gopath:$GOCODE" \
     GOCACHE="$HERE/bin/gocache" "$GO" build -o "$BIN.tmp.$$" . >&2)
  mv "$BIN.tmp.$$" "$BIN"
  find "$HERE/bin" -maxdepth 1 -name "vcsim-*" ! -name "vcsim-$KEY" -delete
fi
echo "$BIN"
