#!/usr/bin/env bash
# The test command: prepares the test data (pydicom's wheel, the reference Python) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-setup.sh
cargo test --workspace --no-fail-fast
