#!/usr/bin/env bash
# Generates runners/portable/proto/generated/ (TypeScript, protobuf-es) from Apache Beam's own v2.77.0 definitions of
# the Runner, Fn, Job, Provision, Artifact and Endpoints APIs. The source needs nothing but the registries: the Go
# module github.com/apache/beam/sdks/v2@v2.77.0 carries the compiled descriptors; scripts/beam-descriptors (a small Go
# program) writes them out as a FileDescriptorSet (runners/portable/proto/beam-v2.77.0.binpb), and buf runs
# protoc-gen-es on it (both from npm). Go's module and build caches live in the project's cache outside the clone.
#   bash scripts/gen-protos.sh           # regenerate
#   bash scripts/gen-protos.sh --check   # regenerate into a temporary folder and fail if the committed files differ
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${TIDEMARK_CACHE:-$HOME/.cache/tidemark}/go-tools"
command -v go >/dev/null || { echo "gen-protos: Go is not installed (needed to read Beam's descriptors)" >&2; exit 1; }
mkdir -p "$cache/bin" "$cache/gopath" "$cache/gocache"
export GOPATH="$cache/gopath" GOCACHE="$cache/gocache" GOFLAGS=-mod=mod CGO_ENABLED=0
tool="$cache/bin/beam-descriptors-v2.77.0"
(cd "$root/scripts/beam-descriptors" && go build -o "$tool" .)
out="$root/runners/portable/proto"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$tool" "$work/beam-v2.77.0.binpb" 2>/dev/null
(cd "$root" && PATH="$root/node_modules/.bin:$PATH" buf generate "$work/beam-v2.77.0.binpb" \
  --template runners/portable/proto/buf.gen.yaml --path org/apache/beam -o "$work")
if [ "${1:-}" = "--check" ]; then
  cmp -s "$work/beam-v2.77.0.binpb" "$out/beam-v2.77.0.binpb" || { echo "gen-protos: the descriptors differ" >&2; exit 1; }
  diff -r "$work/runners/portable/proto/generated" "$out/generated" >&2 || { echo "gen-protos: generated code differs" >&2; exit 1; }
  echo "gen-protos: up to date"
  exit 0
fi
rm -rf "$out/generated"
mv "$work/runners/portable/proto/generated" "$out/generated"
cp "$work/beam-v2.77.0.binpb" "$out/beam-v2.77.0.binpb"
echo "gen-protos: wrote $out/generated"
