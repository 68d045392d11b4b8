#!/usr/bin/env bash
# Builds the descriptor set of Tidemark's own event protos (schemas/proto/tidemark/..., with the well-known types they
# import) into schemas/proto/user-event.binpb, which the protobuf parser reads (schemas/parsers/protobuf-parser.ts).
# buf comes from npm (@bufbuild/buf, a devDependency); the set is checked in so a job needs no build tool.
#   bash scripts/gen-event-protos.sh           # rebuild
#   bash scripts/gen-event-protos.sh --check   # build into a temporary file and fail if the checked-in set differs
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/schemas/proto/user-event.binpb"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$root/schemas/proto" && "$root/node_modules/.bin/buf" build --path tidemark -o "$work/user-event.binpb" .)
if [ "${1:-}" = "--check" ]; then
  cmp -s "$work/user-event.binpb" "$out" || { echo "gen-event-protos: $out is not current (run bash scripts/gen-event-protos.sh)" >&2; exit 1; }
  echo "gen-event-protos: up to date"
  exit 0
fi
cp "$work/user-event.binpb" "$out"
echo "gen-event-protos: wrote $out"
