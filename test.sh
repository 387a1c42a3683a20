#!/usr/bin/env bash
# README's test command: installs and builds what the tests need (./setup.sh), runs every unit
# and end-to-end test through ctest, then the sanitizer build's tests and the fuzz targets
# (scripts/sanitize.sh; IRBIS_SKIP_SANITIZE=1 skips it for quick local runs).
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
if [ "${IRBIS_SKIP_SANITIZE:-0}" != 1 ]; then scripts/sanitize.sh; fi
