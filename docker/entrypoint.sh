#!/bin/sh
# Apply the migrations (unless MIGRATE_ON_START=false: a release step does it, or another container),
# then run the command: gunicorn by default, `python worker.py` for the RQ worker.
set -e
if [ "${MIGRATE_ON_START:-true}" = "true" ]; then
    flask db upgrade
fi
exec "$@"
