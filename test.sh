#!/usr/bin/env bash
# README's test command: installs and builds what the tests need (./setup.sh), then runs every
# unit and end-to-end test through ctest.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
