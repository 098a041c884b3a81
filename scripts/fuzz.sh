#!/usr/bin/env bash
# Fuzzes the parsers and codecs with libFuzzer on the stable toolchain: builds fuzz/ with
# coverage instrumentation (the flags cargo-fuzz passes, none of them nightly-only), seeds each
# target's corpus from pydicom's test files, and runs every target for SECONDS each.
# Usage: scripts/fuzz.sh [SECONDS]   (default 30; CI runs it briefly, long runs by hand)
# A crash stops the run with the input saved under fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
bash scripts/test-setup.sh > /dev/null
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares"
# The host target named explicitly, so that the instrumentation skips build scripts.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --manifest-path fuzz/Cargo.toml --target "$host"
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
.venv/bin/python fuzz/seed.py test-data/pydicom/test_files "$seeds" 2> /dev/null
# Multipart bodies fed a byte at a time are slow to run: shorter inputs there.
max_len() { if [ "$1" = multipart ]; then echo 65536; else echo 1048576; fi; }
for target in parse_file pdu multipart codecs; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  echo "fuzzing $target for ${seconds}s" >&2
  "fuzz/target/$host/release/$target" "fuzz/corpus/$target" "$seeds/$target" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len="$(max_len "$target")" \
    -artifact_prefix="fuzz/artifacts/$target/" -print_final_stats=1 2>&1 \
    | grep -E "^#[0-9]+.*(DONE|pulse)|^stat::|ERROR|panicked|SUMMARY" | tail -12
  status=${PIPESTATUS[0]}
  [ "$status" -eq 0 ] || { echo "fuzz target $target failed ($status)" >&2; exit "$status"; }
done
