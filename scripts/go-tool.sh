#!/usr/bin/env bash
# Builds a Go tool the tests and scripts start (never vendored: fetched by name and version from the Go module
# proxy) into a cache outside the clone, $TIDEMARK_CACHE/go-tools/bin (default ~/.cache/tidemark), once and keyed by
# tool and version: later calls, other clones and CI runs on the same machine reuse the binary. Prints its path.
#   scripts/go-tool.sh bigquery-emulator   # github.com/goccy/bigquery-emulator v0.8.1 (first build ~5-6 min, ~6 GB)
#   scripts/go-tool.sh prism               # github.com/apache/beam/sdks/v2 v2.77.0, ./go/cmd/prism
#   scripts/go-tool.sh fake-gcs-server     # github.com/fsouza/fake-gcs-server v1.52.2 (a GCS server for staging tests)
#   scripts/go-tool.sh terraform           # github.com/hashicorp/terraform v1.5.7 (deploy/terraform's offline checks;
#                                          # later versions keep backends in nested modules their zip leaves out)
#   scripts/go-tool.sh promtool            # github.com/prometheus/prometheus v0.308.0 (Prometheus 3.8.0), ./cmd/promtool
#                                          # (deploy/monitoring's rule checks and unit tests)
# `go install MODULE@VERSION` is refused here (the proxy serves the version but not its version list), so the module
# is downloaded with `go mod download -json` and built in the directory that prints.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${TIDEMARK_CACHE:-$HOME/.cache/tidemark}/go-tools"
case "${1:-}" in
  bigquery-emulator) module=github.com/goccy/bigquery-emulator; version=v0.8.1; pkg=./cmd/bigquery-emulator ;;
  prism) module=github.com/apache/beam/sdks/v2; version=v2.77.0; pkg=./go/cmd/prism ;;
  fake-gcs-server) module=github.com/fsouza/fake-gcs-server; version=v1.52.2; pkg=. ;;
  terraform) module=github.com/hashicorp/terraform; version=v1.5.7; pkg=. ;;
  promtool) module=github.com/prometheus/prometheus; version=v0.308.0; pkg=./cmd/promtool ;;
  *) echo "usage: scripts/go-tool.sh bigquery-emulator|prism|fake-gcs-server|terraform|promtool" >&2; exit 2 ;;
esac
bin="$cache/bin/$1-$version"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
command -v go >/dev/null || { echo "go-tool: Go is not installed (needed to build $module@$version)" >&2; exit 1; }
mkdir -p "$cache/bin" "$cache/gopath" "$cache/gocache"
export GOPATH="$cache/gopath" GOCACHE="$cache/gocache" GOFLAGS=-mod=mod CGO_ENABLED=0
dir="$(go mod download -json "$module@$version" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(j.Error){console.error(j.Error);process.exit(1)}console.log(j.Dir)})')"
start=$(date +%s)
echo "go-tool: building $module@$version ($pkg); the first build takes minutes" >&2
(cd "$dir" && go build -o "$bin.tmp" "$pkg")
mv "$bin.tmp" "$bin"
echo "go-tool: built $bin in $(( $(date +%s) - start )) s" >&2
echo "$bin"
