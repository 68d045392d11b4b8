#!/usr/bin/env bash
# Builds scripts/beam-dataflow-job (a small Go program of the tests: the Dataflow job request Beam's Go SDK v2.77.0
# makes, the reference Tidemark's request is compared with) into the project's cache outside the clone, once, and
# prints its path. Needs Go; the Beam module comes from the Go module proxy (as for Prism).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${TIDEMARK_CACHE:-$HOME/.cache/tidemark}/go-tools"
bin="$cache/bin/beam-dataflow-job-v2.77.0"
if [ -x "$bin" ] && [ "$bin" -nt "$root/scripts/beam-dataflow-job/main.go" ]; then echo "$bin"; exit 0; fi
command -v go >/dev/null || { echo "beam-dataflow-job: Go is not installed" >&2; exit 1; }
mkdir -p "$cache/bin" "$cache/gopath" "$cache/gocache"
export GOPATH="$cache/gopath" GOCACHE="$cache/gocache" GOFLAGS=-mod=mod CGO_ENABLED=0
(cd "$root/scripts/beam-dataflow-job" && go build -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
echo "$bin"
