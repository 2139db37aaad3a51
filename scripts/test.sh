#!/usr/bin/env bash
# The whole suite: type-check, protobuf lint + generated-code freshness, and
# every bun:test file. `npm test` runs this; so does CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
BUN=./node_modules/.bin/bun

echo "== type-check (tsc --noEmit)"
./node_modules/.bin/tsc --noEmit -p .

echo "== buf lint"
./node_modules/.bin/buf lint

echo "== gen/ is fresh (buf generate into a temp dir and compare)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./node_modules/.bin/buf generate -o "$tmp"
if ! diff -r gen "$tmp/gen" >/dev/null; then
  echo "gen/ is stale: run 'npm run generate' and commit the result" >&2
  diff -r gen "$tmp/gen" | head -20 >&2
  exit 1
fi

echo "== bun test"
"$BUN" test --timeout 60000 "$@"
