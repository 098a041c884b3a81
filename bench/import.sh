#!/usr/bin/env bash
# Import benchmark, side by side in one run on the same 10,000 synthetic 512×512 CT files (~526 KB):
#   (a) lightbox import --link  vs  (b) a pydicom reference indexer (stop_before_pixels + SQLite)
#   (c) lightbox import (copy)  vs  (d) cp -r
#
# Fairness:
# - no root cache dropping: every contender reads from a warm page cache (the files are read once
#   before timing, and all contenders read the same files);
# - `sync` (untimed) before every timed run, so no contender pays for the write-back of the
#   previous one's 5 GB of dirty pages;
# - the time is taken until the process exits (what a user waits for); the `sync` right after
#   it, i.e. the cost of getting the written data to disk, is reported in a separate column;
# - each contender writes into a fresh destination, removed after the run.
#
# Usage: bash bench/import.sh [RUNS]   (default 3; PYTHON=... chooses the interpreter with pydicom)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
PYTHON=${PYTHON:-$PWD/.venv/bin/python}
[ -x "$PYTHON" ] || bash scripts/test-setup.sh >/dev/null
"$PYTHON" -c 'import pydicom' || { echo "no pydicom in $PYTHON" >&2; exit 1; }
cargo build --release -q -p lightbox
LB=$PWD/target/release/lightbox
WORK=$(mktemp -d /tmp/lightbox-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

echo "machine: $(nproc) cores, $(uname -sr), $(df -T /tmp | awk 'NR==2 {print $2}') under /tmp, $(cp --version | head -1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
echo "generating 10,000 CT files (not timed)..."
"$LB" generate "$WORK/data" --patients 10 --studies 10 --series 2 --instances 50 --modality CT > /dev/null
FILES=$(find "$WORK/data" -type f | wc -l)
[ "$FILES" -eq 10000 ] || { echo "expected 10000 files, got $FILES" >&2; exit 1; }
echo "$FILES files, $(du -sm "$WORK/data" | cut -f1) MB"
find "$WORK/data" -type f -print0 | xargs -0 cat > /dev/null   # warm the page cache for everyone
sync

now() { date +%s.%N; }
declare -A SAMPLES FLUSH RSS
run() { # label command...
  local label=$1; shift
  local t0 t1 t2
  sync
  t0=$(now)
  /usr/bin/time -f %M -o "$WORK/rss.txt" "$@" > "$WORK/out.txt"
  t1=$(now)
  sync
  t2=$(now)
  SAMPLES[$label]+="$(echo "$t1 - $t0" | bc -l) "
  FLUSH[$label]+="$(echo "$t2 - $t1" | bc -l) "
  RSS[$label]+="$(cat "$WORK/rss.txt") "
}
LABELS=("lightbox import --link" "pydicom reference indexer" "lightbox import (copy)" "cp -r")
contender() { # index run
  case $1 in
    0) run "${LABELS[0]}" "$LB" --data-dir "$WORK/link-$2" import --link --json "$WORK/data"
       grep -q '"imported":10000' "$WORK/out.txt" || { cat "$WORK/out.txt"; exit 1; } ;;
    1) run "${LABELS[1]}" "$PYTHON" bench/pydicom_indexer.py "$WORK/data" "$WORK/py-$2.sqlite"
       grep -q '^10000$' "$WORK/out.txt" || { cat "$WORK/out.txt"; exit 1; } ;;
    2) run "${LABELS[2]}" "$LB" --data-dir "$WORK/copy-$2" import --json "$WORK/data"
       grep -q '"imported":10000' "$WORK/out.txt" || { cat "$WORK/out.txt"; exit 1; } ;;
    3) run "${LABELS[3]}" cp -r "$WORK/data" "$WORK/cp-$2"
       [ "$(find "$WORK/cp-$2" -type f | wc -l)" -eq 10000 ] || { echo "cp -r copied too few files" >&2; exit 1; } ;;
  esac
}
# The write throughput of the disk drifts during a run, so the order alternates: a, b, c, d on
# odd runs, d, c, b, a on even ones (no contender always runs right after another's 5 GB).
for i in $(seq "$RUNS"); do
  echo "run $i of $RUNS..."
  if [ $((i % 2)) -eq 1 ]; then order="0 1 2 3"; else order="3 2 1 0"; fi
  for c in $order; do contender "$c" "$i"; done
  rm -rf "$WORK/link-$i" "$WORK/copy-$i" "$WORK/cp-$i" "$WORK/py-$i.sqlite"*
done

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A MED MEDF
echo
echo "$(date -u +%F): import of 10,000 CT files, median of $RUNS runs, warm page cache"
echo
echo "| Contender | seconds | files/s | MB/s | + sync after (s) | all runs (s) | peak RSS (MB) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
MB=$(du -sm "$WORK/data" | cut -f1)
for label in "${LABELS[@]}"; do
  MED[$label]=$(echo "${SAMPLES[$label]}" | median)
  MEDF[$label]=$(echo "${FLUSH[$label]}" | median)
  all=$(for s in ${SAMPLES[$label]}; do printf '%.2f ' "$s"; done)
  rss=$(echo "${RSS[$label]}" | median)
  printf '| %s | %.3f | %.0f | %.0f | %.2f | %s | %.0f |\n' "$label" "${MED[$label]}" \
    "$(echo "10000 / ${MED[$label]}" | bc -l)" "$(echo "$MB / ${MED[$label]}" | bc -l)" \
    "${MEDF[$label]}" "${all% }" "$(echo "$rss / 1024" | bc -l)"
done
LINK=${MED[lightbox import --link]}
PY=${MED[pydicom reference indexer]}
COPY=${MED[lightbox import (copy)]}
CP=${MED[cp -r]}
COPYS=$(echo "$COPY + ${MEDF[lightbox import (copy)]}" | bc -l)
CPS=$(echo "$CP + ${MEDF[cp -r]}" | bc -l)
ok() { if [ "$(echo "$1" | bc -l)" -eq 1 ]; then echo met; else echo "NOT met"; fi; }
echo
echo "| Target | Measured | |"
echo "|---|---|---|"
printf '| link mode ≥ 10× the pydicom reference | %.1f× | %s |\n' "$(echo "$PY / $LINK" | bc -l)" "$(ok "$PY / $LINK >= 10")"
printf '| link mode ≥ 5,000 files/s on %s cores | %.0f files/s | %s |\n' "$(nproc)" "$(echo "10000 / $LINK" | bc -l)" "$(ok "10000 / $LINK >= 5000")"
printf '| copy mode ≥ 70%% of the speed of cp -r | %.0f%% (%.0f%% counting the sync after each) | %s |\n' \
  "$(echo "100 * $CP / $COPY" | bc -l)" "$(echo "100 * $CPS / $COPYS" | bc -l)" "$(ok "$CP / $COPY >= 0.7")"
