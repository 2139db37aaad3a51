#!/usr/bin/env bash
# The whole suite: type-check, protobuf lint + generated-code freshness, the
# real servers (Kafka, Cassandra, Redis via scripts/infra/services.sh), and
# every bun:test file. `npm test` runs this; so does CI (.ci/run).
#
# CHAT_TEST_NO_INFRA=1 skips starting the servers (real-backend suites are
# then not run locally, with a warning, and fail under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
BUN=./node_modules/.bin/bun

infra_pid=""
if [ -z "${CHAT_TEST_NO_INFRA:-}" ]; then
  mkdir -p .infra
  # Start the servers in the background while the static checks run.
  bash scripts/infra/services.sh up >.infra/up.log 2>&1 &
  infra_pid=$!
fi

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

if [ -n "$infra_pid" ]; then
  echo "== real servers (scripts/infra/services.sh up)"
  if ! wait "$infra_pid"; then
    cat .infra/up.log >&2
    echo "could not start the real servers" >&2
    exit 1
  fi
  tail -4 .infra/up.log
  export CHAT_TEST_KAFKA="127.0.0.1:${KAFKA_PORT:-19092}"
  export CHAT_TEST_CASSANDRA="127.0.0.1:${CASSANDRA_PORT:-19042}"
  # DB 7: the machine's Redis may be shared; tests also use unique key prefixes.
  export CHAT_TEST_REDIS="redis://127.0.0.1:${REDIS_PORT:-6379}/7"
fi
echo "== backends: kafka=${CHAT_TEST_KAFKA:-none} cassandra=${CHAT_TEST_CASSANDRA:-none} redis=${CHAT_TEST_REDIS:-none} (embedded: always)"

echo "== browser and terminal for the client tests (Debian chromium, tmux)"
bash scripts/ensure-chromium.sh

echo "== bun test"
"$BUN" test --timeout 60000 "$@"
