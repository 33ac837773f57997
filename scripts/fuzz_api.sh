#!/bin/sh
# Fuzz the HTTP API with schemathesis against a real gunicorn + worker on a fresh database.
# Not part of CI (property-based runs take minutes); see docs/hardening.md.
#   sh scripts/fuzz_api.sh [extra schemathesis options, e.g. --max-examples 200 --seed 1]
# Needs: Postgres (FUZZ_PG, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and
# Redis (FUZZ_REDIS); installs schemathesis into .venv if missing.
set -eu
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x .venv/bin/schemathesis ] || .venv/bin/pip install -q schemathesis
SERVER=${FUZZ_PG:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
PORT=${FUZZ_PORT:-18941}
DB="dp_fuzz_$(date +%s)_$$"
WORK=$(mktemp -d)
ADMIN=$(echo "$SERVER" | sed 's/+psycopg//')
psql "$ADMIN" -qc "CREATE DATABASE \"$DB\""
export DATABASE_URL=$(echo "$SERVER" | sed "s#/[^/]*\$#/$DB#")
export REDIS_URL=${FUZZ_REDIS:-redis://127.0.0.1:6379/0}
export SECRET_KEY="fuzz-$(od -An -tx8 -N16 /dev/urandom | tr -d ' \n')"
export DRIPPULSE_DATA_DIR="$WORK/data" DRIPPULSE_QUEUE_PREFIX="dpfuzz-$$:" DRIPPULSE_BATCH_SIZE=50
API=; WORKER=
cleanup() {
  # only the two process groups started here
  [ -n "$API" ] && kill -TERM -"$API" 2>/dev/null || true
  [ -n "$WORKER" ] && kill -TERM -"$WORKER" 2>/dev/null || true
  sleep 2
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
$PY -m drippulse migrate
KEY=$($PY -m drippulse org create Fuzz | $PY -c "import json,sys; print(json.load(sys.stdin)['api_key'])")
setsid .venv/bin/gunicorn api.wsgi:app --bind "127.0.0.1:$PORT" --workers 2 --threads 4 \
  --worker-class gthread --log-level warning > "$WORK/api.log" 2>&1 &
API=$!
setsid $PY -m drippulse worker --concurrency 2 --loglevel WARNING > "$WORK/worker.log" 2>&1 &
WORKER=$!
sleep 3
# a server already on the port would be fuzzed with a key it does not know
kill -0 "$API" 2>/dev/null || { echo "gunicorn did not start (port $PORT in use?)"; cat "$WORK/api.log"; exit 1; }
.venv/bin/schemathesis run "http://127.0.0.1:$PORT/api/v1/openapi.json" --wait-for-schema 30 \
  -H "Authorization: Bearer $KEY" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,use_after_free,ensure_resource_availability \
  --phases coverage,fuzzing,stateful --continue-on-failure -w 4 "$@" || STATUS=$?
echo "server errors logged by the API:"
grep -c "unhandled error" "$WORK/api.log" || true
exit "${STATUS:-0}"
