#!/usr/bin/env bash
# Runs a command beside a PostgreSQL server of its own: a cluster initialised in a temporary
# folder, listening on 127.0.0.1 and a free port only, stopped (and removed) when the command
# ends. The command finds it in LIGHTBOX_TEST_POSTGRES (postgres://lightbox@127.0.0.1:PORT);
# the CLI tests then give each data directory a database of its own there.
# PostgreSQL refuses to run as root: as root, the server runs as the package's postgres user.
set -euo pipefail
initdb=$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)
[ -n "$initdb" ] || { echo "PostgreSQL's server is missing: install the Debian package postgresql" >&2; exit 1; }
bin=$(dirname "$(readlink -f "$initdb")")
# A prefix, not a function: a function run in the background is a subshell, and the signal that
# stops the server would reach that shell instead of PostgreSQL.
as_server=()
[ "$(id -u)" = 0 ] && as_server=(setpriv --reuid=postgres --regid=postgres --init-groups --)
dir=$(mktemp -d)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
"${as_server[@]}" "$bin/initdb" -D "$dir/data" -U lightbox --auth=trust -E UTF8 --locale=C.UTF-8 \
  --no-sync --no-instructions >"$dir/initdb.log"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_server[@]}" "$bin/postgres" -D "$dir/data" -h 127.0.0.1 -p "$port" -k "$dir" \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 \
  2>"$dir/postgres.log" &
server=$!
stop() {
  kill -INT "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$dir"
}
trap stop EXIT
for _ in $(seq 300); do
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
  kill -0 "$server" 2>/dev/null || { cat "$dir/postgres.log" >&2; exit 1; }
  sleep 0.1
done
export LIGHTBOX_TEST_POSTGRES="postgres://lightbox@127.0.0.1:$port"
"$@"
