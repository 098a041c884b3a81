#!/usr/bin/env bash
# The test command: prepares the test data (pydicom's wheel, the reference Python) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# Library, binary and integration tests (the crates have no doc tests).
cargo test --workspace --lib --bins --tests --no-fail-fast 2>&1 | tee "$log" || status=$?
count() { awk -v word="$1" '/^test result:/ { for (i = 2; i <= NF; i++) if ($i ~ "^" word) n += $(i - 1) } END { print n + 0 }' "$log"; }
echo "tests: $(count passed) passed, $(count failed) failed"
exit "$status"
