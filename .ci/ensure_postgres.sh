#!/usr/bin/env bash
# Make sure PostgreSQL answers at 127.0.0.1:5432 with trust auth for 127.0.0.1 and a database `test`,
# as the tests' pg_url fixture expects: install (Debian apt) and start it if needed. Idempotent; quiet on success.
# RUNTREE_PG_PORT / RUNTREE_PG_CLUSTER pick another port / Debian cluster name (to try this script safely).
set -euo pipefail

PORT=${RUNTREE_PG_PORT:-5432}
CLUSTER=${RUNTREE_PG_CLUSTER:-main}
HOST=127.0.0.1

say() { echo "ensure_postgres: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
ready() { pg_isready -q -h "$HOST" -p "$PORT" >/dev/null 2>&1; }
trusted() { psql -w -h "$HOST" -p "$PORT" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; }
has_test_db() { [ "$(psql -w -h "$HOST" -p "$PORT" -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null)" = 1 ]; }

# Already fine (also when the server is not ours to manage, e.g. a CI service container): nothing to do.
if command -v pg_isready >/dev/null 2>&1 && ready && trusted && has_test_db; then
    exit 0
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v pg_isready >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    say "installing postgresql"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

# The newest installed major version, unless a cluster of that name already exists in another one.
VERSION=$(pg_lsclusters -h 2>/dev/null | awk -v c="$CLUSTER" '$2 == c {print $1}' | sort -V | tail -1)
if [ -z "$VERSION" ]; then
    VERSION=$(ls /usr/lib/postgresql | sort -V | tail -1)
    say "creating cluster $VERSION/$CLUSTER on port $PORT"
    as_root pg_createcluster -p "$PORT" "$VERSION" "$CLUSTER" >/dev/null
fi

HBA=/etc/postgresql/$VERSION/$CLUSTER/pg_hba.conf
changed_hba=0
if ! as_root grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$HBA"; then
    say "trusting 127.0.0.1 in $HBA"
    # pg_hba.conf is read top-down, first match wins: put the trust line first.
    as_root sed -i '1i host all all 127.0.0.1/32 trust' "$HBA"
    changed_hba=1
fi

if ! ready; then
    say "starting cluster $VERSION/$CLUSTER"
    as_root pg_ctlcluster "$VERSION" "$CLUSTER" start || as_root service postgresql start
    for _ in $(seq 60); do ready && break; sleep 0.5; done
    ready || { say "PostgreSQL did not come up on $HOST:$PORT"; exit 1; }
elif [ "$changed_hba" = 1 ] || ! trusted; then
    as_root pg_ctlcluster "$VERSION" "$CLUSTER" reload
    sleep 0.5
fi

trusted || { say "cannot connect as postgres to $HOST:$PORT without a password (check $HBA)"; exit 1; }
if ! has_test_db; then
    say "creating database test"
    createdb -w -h "$HOST" -p "$PORT" -U postgres test
fi
