#!/usr/bin/env bash
# Import benchmark, side by side in one run on the same 10,000 synthetic 512×512 CT files (~526 KB):
#   lightbox import --link  vs  a pydicom reference indexer (stop_before_pixels + SQLite)
#   lightbox import (copy)  vs  cp -r
# Every contender reads from a warm page cache (the files are read once before timing).
# Usage: bash bench/import.sh [RUNS]   (PYTHON=... to choose the interpreter with pydicom)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || bash scripts/test-setup.sh >/dev/null
cargo build --release -q -p lightbox
LB=$PWD/target/release/lightbox
WORK=$(mktemp -d /tmp/lightbox-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

"$LB" generate "$WORK/data" --patients 10 --studies 10 --series 2 --instances 50 --modality CT
FILES=$(find "$WORK/data" -type f | wc -l)
[ "$FILES" -eq 10000 ] || { echo "expected 10000 files, got $FILES" >&2; exit 1; }
find "$WORK/data" -type f -print0 | xargs -0 cat > /dev/null   # warm the page cache for everyone

now() { date +%s.%N; }
declare -A SAMPLES
run() { # label command...
  local label=$1; shift
  local t0 t1
  t0=$(now); "$@" > "$WORK/out.txt"; t1=$(now)
  SAMPLES[$label]+="$(echo "$t1 - $t0" | bc -l) "
}
for i in $(seq "$RUNS"); do
  run "lightbox import --link" "$LB" --data-dir "$WORK/link-$i" import --link --json "$WORK/data"
  grep -q '"imported":10000' "$WORK/out.txt" || { cat "$WORK/out.txt"; exit 1; }
  run "pydicom reference indexer" "$PYTHON" bench/pydicom_indexer.py "$WORK/data" "$WORK/py-$i.sqlite"
  grep -q '^10000$' "$WORK/out.txt" || { cat "$WORK/out.txt"; exit 1; }
  run "lightbox import (copy)" "$LB" --data-dir "$WORK/copy-$i" import --json "$WORK/data"
  grep -q '"imported":10000' "$WORK/out.txt" || { cat "$WORK/out.txt"; exit 1; }
  run "cp -r" cp -r "$WORK/data" "$WORK/cp-$i"
  rm -rf "$WORK/link-$i" "$WORK/copy-$i" "$WORK/cp-$i" "$WORK/py-$i.sqlite"*
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "| Import of 10,000 CT files (median of $RUNS) | seconds | files/s |"
echo "|---|---:|---:|"
declare -A MED
for label in "lightbox import --link" "pydicom reference indexer" "lightbox import (copy)" "cp -r"; do
  MED[$label]=$(echo "${SAMPLES[$label]}" | median)
  printf '| %s | %.3f | %.0f |\n' "$label" "${MED[$label]}" "$(echo "10000 / ${MED[$label]}" | bc -l)"
done
echo
printf 'link mode vs pydicom reference: %.1fx faster (target: at least 10x)\n' "$(echo "${MED[pydicom reference indexer]} / ${MED[lightbox import --link]}" | bc -l)"
printf 'link mode throughput: %.0f files/s (target: at least 5,000)\n' "$(echo "10000 / ${MED[lightbox import --link]}" | bc -l)"
printf 'copy mode vs cp -r: %.0f%% of its speed (target: at least 70%%)\n' "$(echo "100 * ${MED[cp -r]} / ${MED[lightbox import (copy)]}" | bc -l)"
