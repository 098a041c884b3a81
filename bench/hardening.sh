#!/usr/bin/env bash
# The attack figures of BENCHMARKS.md's hardening table: runs the tests that reproduce each
# attack (they assert the bound; each prints what it measured as a `figure:` line) one at a
# time inside a private network namespace, and prints those lines.
# Usage: bash bench/hardening.sh   (needs the peers of scripts/install-peers.sh; root for the namespace)
set -euo pipefail
cd "$(dirname "$0")/.."
tests=(
  "lightbox --test hostile_network"
  "lightbox-net --test hardening"
  "lightbox-server --test http_limits"
  "lightbox-server --test web_security"
  "lightbox --test decode_memory"
  "lightbox-core --test zip_bombs"
  "lightbox-server --test stow_bomb"
  "lightbox-core --test dimse a_codestream_cut_short"
  "lightbox-core --test jobs_network suspended"
  "lightbox-core --test jobs_network peer_hangs"
  "lightbox --test dicomweb_memory"
  "lightbox-dicom --test hostile"
)
if [ "${LIGHTBOX_TEST_NETNS:-}" != 1 ]; then
  [ -x .venv/bin/python ] || bash scripts/test-setup.sh >/dev/null
  cargo test --workspace --tests --no-run -q
  exec unshare -n env LIGHTBOX_TEST_NETNS=1 CI=true bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi
for t in "${tests[@]}"; do
  read -r package target name filter <<< "$t"
  cargo test --offline -q -p "$package" "$target" "$name" -- ${filter:+"$filter"} --nocapture --test-threads=1 2>&1 \
    | grep -oE "(figure: |FAILED|panicked).*" || { echo "no figure from $t" >&2; exit 1; }
done
