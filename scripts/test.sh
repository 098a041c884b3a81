#!/usr/bin/env bash
# The test command: prepares the test data (pydicom's wheel, the reference Python), builds, then
# runs every test inside a private network namespace where only loopback exists, so that peers
# which listen on all interfaces (DCMTK, Orthanc) can never be reached from outside.
set -euo pipefail
cd "$(dirname "$0")/.."
# Every test runs: a missing peer is said at once, with the command that installs it, rather than
# skipped and counted as passed.
missing=()
for tool in storescu echoscu dcmqrscp dcmsend dciodvfy Orthanc openssl curl chromium chromedriver unshare ip npm; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
[ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || missing+=("orthanc-dicomweb")
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || missing+=("postgresql")
command -v setpriv >/dev/null 2>&1 || missing+=("setpriv")
python3 -m venv --help >/dev/null 2>&1 || missing+=("python3-venv")
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]}" >&2
  echo "the DIMSE, DICOMweb and UI tests need them; install them with: sudo scripts/install-peers.sh" >&2
  exit 1
fi
export CI=true
# The web UI's type check first (TypeScript's checker over its JSDoc-typed modules; nothing is built).
npm ci --prefix crates/server/ui --no-audit --no-fund --loglevel=error && npx --prefix crates/server/ui tsc -p crates/server/ui
bash scripts/test-setup.sh
TESTS=(--workspace --lib --bins --tests)   # the crates have no doc tests
cargo test "${TESTS[@]}" --no-run
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Then the CLI's end-to-end tests (DIMSE, DICOMweb, the UI, jobs) once more, each data directory
# on a PostgreSQL index of its own, in a server this run starts on loopback and stops.
run='ip link set lo up && export LIGHTBOX_TEST_NETNS=1 && failed=0
cargo test --offline '"${TESTS[*]}"' --no-fail-fast || failed=$?
echo "== the CLI end-to-end tests again, on a PostgreSQL index"
scripts/with-postgres.sh cargo test --offline -p lightbox --tests --no-fail-fast || failed=$?
exit $failed'
status=0
if unshare -n true 2>/dev/null; then
  unshare -n bash -c "$run" 2>&1 | tee "$log" || status=$?
elif unshare -rn true 2>/dev/null; then
  unshare -rn bash -c "$run" 2>&1 | tee "$log" || status=$?
else
  echo "no network namespace can be made here (unshare -n): the tests with peers need one" >&2
  exit 1
fi
count() { awk -v word="$1" '/^test result:/ { for (i = 2; i <= NF; i++) if ($i ~ "^" word) n += $(i - 1) } END { print n + 0 }' "$log"; }
echo "tests: $(count passed) passed, $(count failed) failed"
exit "$status"
