#!/usr/bin/env bash
# The test command: prepares the test data (pydicom's wheel, the reference Python), builds, then
# runs every test inside a private network namespace where only loopback exists, so that peers
# which listen on all interfaces (DCMTK, Orthanc) can never be reached from outside.
set -euo pipefail
cd "$(dirname "$0")/.."
# The web UI's type check first (TypeScript's checker over its JSDoc-typed modules; nothing is built).
npm ci --prefix crates/server/ui --no-audit --no-fund --loglevel=error && npx --prefix crates/server/ui tsc -p crates/server/ui
bash scripts/test-setup.sh
TESTS=(--workspace --lib --bins --tests)   # the crates have no doc tests
cargo test "${TESTS[@]}" --no-run
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run='ip link set lo up && LIGHTBOX_TEST_NETNS=1 cargo test --offline '"${TESTS[*]}"' --no-fail-fast'
status=0
if unshare -n true 2>/dev/null; then
  unshare -n bash -c "$run" 2>&1 | tee "$log" || status=$?
elif unshare -rn true 2>/dev/null; then
  unshare -rn bash -c "$run" 2>&1 | tee "$log" || status=$?
else
  echo "no network namespace available: tests that need one are skipped (and fail under CI=true)" >&2
  cargo test --offline "${TESTS[@]}" --no-fail-fast 2>&1 | tee "$log" || status=$?
fi
count() { awk -v word="$1" '/^test result:/ { for (i = 2; i <= NF; i++) if ($i ~ "^" word) n += $(i - 1) } END { print n + 0 }' "$log"; }
echo "tests: $(count passed) passed, $(count failed) failed"
exit "$status"
