#!/usr/bin/env bash
# README's test command: installs and builds what the tests need (./setup.sh), runs every unit
# and end-to-end test through ctest. IRBIS_SANITIZE=1 then also runs the ASan+UBSan build's tests
# and the libFuzzer targets (scripts/sanitize.sh); it is not on by default until a whole
# sanitizer run has been verified inside CI's time limit (docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
if [ "${IRBIS_SANITIZE:-0}" = 1 ]; then scripts/sanitize.sh; fi
