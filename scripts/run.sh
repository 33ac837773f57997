#!/bin/sh
# The README's first command: install and run the whole platform.
# Without DATABASE_URL / REDIS_URL it starts embedded Postgres and Redis under ./.drippulse/.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q -e .
exec .venv/bin/drippulse up "$@"
