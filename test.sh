#!/usr/bin/env bash
# README's test command (and CI's, .ci/run): installs and builds what the tests need (./setup.sh),
# runs every unit and end-to-end test through ctest, then the sanitizer run (scripts/sanitize.sh):
# a clang ASan+UBSan build, its unit tests and the end-to-end tests that feed the parsers, and
# every libFuzzer target over its seed corpus. Any failed test, sanitizer report or fuzz crash fails
# this script. IRBIS_SANITIZE=0 skips the sanitizer run (a quick local run); its time budget is in
# docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
if [ "${IRBIS_SANITIZE:-1}" != 0 ]; then scripts/sanitize.sh; fi
