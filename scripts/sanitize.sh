#!/usr/bin/env bash
# Sanitizer CI (issue 16): a second build folder (build-asan/) compiled by clang with
# AddressSanitizer + UndefinedBehaviorSanitizer (-O1, every UB report fatal) and the libFuzzer
# targets of fuzz/; runs the unit tests and the end-to-end tests against it, then every fuzz
# target for a bounded time on its generated seed corpus. Any failing test, sanitizer report,
# fuzz crash, leak, timeout or broken invariant fails the script. `./test.sh` (and so CI) runs it
# after the normal tests; IRBIS_SANITIZE=0 skips it (docs/reliability.md has the time budget).
#   scripts/sanitize.sh               build, tests, fuzzing
#   scripts/sanitize.sh --build-only  configure and build only
#   scripts/sanitize.sh --fuzz-only   build, then fuzzing only (a longer local campaign)
# Environment: IRBIS_FUZZ_SECONDS (default 40) seconds per fuzz target (decode and header get
# twice that); IRBIS_FUZZ_JOBS (default: nproc, at most 2) targets fuzzed at once;
# IRBIS_FUZZ_TARGETS (default: all) a regex of target names, e.g. 'decode|header|gif';
# IRBIS_ASAN_BUILD_DIR (default build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${IRBIS_ASAN_BUILD_DIR:-build-asan}
FUZZ_SECONDS=${IRBIS_FUZZ_SECONDS:-40}
JOBS=${IRBIS_FUZZ_JOBS:-$(nproc)}
[ "$JOBS" -le 2 ] || JOBS=2
start=$(date +%s)

CXX=$(command -v clang++ || command -v clang++-14) || { echo "sanitize: clang++ not found (apt-get install clang libclang-rt-14-dev libomp-dev)" >&2; exit 1; }
CC=$(command -v clang || command -v clang-14)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# fuzzer-no-link: coverage instrumentation for the whole library, libFuzzer linked only into fuzz/.
FLAGS="$SAN -fsanitize=fuzzer-no-link -O1 -gline-tables-only"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Sanitize \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$FLAGS" -DCMAKE_CXX_FLAGS="$FLAGS" \
  -DCMAKE_EXE_LINKER_FLAGS="$SAN" -DCMAKE_SHARED_LINKER_FLAGS="$SAN" \
  -DIRBIS_FUZZ=ON -DIRBIS_BUILD_PYTHON=OFF -DIRBIS_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
echo "sanitize: build done in $(( $(date +%s) - start )) s"
MODE=${1:-all}
[ "$MODE" = --build-only ] && exit 0

# Leaks are checked by the fuzz targets (per input); the test runs would report the one-time
# allocations third-party libraries never free (OpenCV, OpenMP, protobuf).
# Reports go to files as well as failing the process: an end-to-end test that expects irbis to fail
# on bad input must not take a sanitizer abort for the expected error, so any report file fails
# the run whatever the test concluded.
SANLOGS=$ROOT/$BUILD/sanitizer-reports
rm -rf "$SANLOGS"; mkdir -p "$SANLOGS"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1:check_initialization_order=1:log_path=$SANLOGS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$SANLOGS/ubsan"
# Not under the sanitizers: the Python module is not built here (it links the normal build), the
# browser test drives chromium against the normal build's report, and the demo takes minutes
# under ASan while covering nothing e2e.index_* and e2e.report do not.
if [ "$MODE" != --fuzz-only ]; then
  tests_rc=0
  ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)" -E '^e2e\.(python|browser|demo)$' --timeout 900 || tests_rc=$?
  if compgen -G "$SANLOGS/*" > /dev/null; then
    echo "sanitize: sanitizer reports during the tests:" >&2
    for f in "$SANLOGS"/*; do echo "--- $f" >&2; head -60 "$f" >&2; done
    exit 1
  fi
  [ $tests_rc -eq 0 ] || { echo "sanitize: tests failed under the sanitizers" >&2; exit 1; }
  echo "sanitize: tests done at $(( $(date +%s) - start )) s"
fi

# Fuzzing: seeds generated fresh (scripts/fuzz_seeds.py); the corpus folder keeps what earlier
# runs found, so local re-runs start further along.
CORPUS=$BUILD/fuzz-corpus
ARTIFACTS=$BUILD/fuzz-artifacts
LOGS=$BUILD/fuzz-logs
mkdir -p "$CORPUS" "$ARTIFACTS" "$LOGS"
/usr/bin/python3 scripts/fuzz_seeds.py "$CORPUS"
fuzz_one() {
  local exe=$1 name secs
  name=$(basename "$exe"); name=${name#fuzz_}
  secs=$FUZZ_SECONDS
  case $name in decode|header) secs=$((FUZZ_SECONDS * 2));; esac
  mkdir -p "$CORPUS/$name"
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" "$exe" "$CORPUS/$name" -max_total_time="$secs" -timeout=20 \
    -rss_limit_mb=2560 -max_len=262144 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$name-" \
    > "$LOGS/$name.log" 2>&1
  local rc=$?
  local execs corpus
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOGS/$name.log" | grep -o '[0-9]*$' || echo "?")
  corpus=$(ls "$CORPUS/$name" | wc -l)
  if [ $rc -ne 0 ]; then
    echo "sanitize: fuzz_$name FAILED (exit $rc) after ${secs} s; log $LOGS/$name.log:"
    grep -E 'ERROR|SUMMARY|invariant|Test unit written|uncaught|runtime error' "$LOGS/$name.log" | head -20
    return 1
  fi
  echo "sanitize: fuzz_$name ok: ${secs} s, $execs executions, corpus $corpus files" | tee -a "$LOGS/summary.txt"
}
export -f fuzz_one
export CORPUS ARTIFACTS LOGS FUZZ_SECONDS
targets=$(ls "$BUILD"/fuzz/fuzz_* | grep -E "/fuzz_(${IRBIS_FUZZ_TARGETS:-.*})\$") || true
if [ -z "${IRBIS_FUZZ_TARGETS:-}" ] && [ "$(wc -w <<<"$targets")" -ne "$(ls fuzz/*.cpp | wc -l)" ]; then
  echo "sanitize: expected one fuzz_<name> per fuzz/*.cpp, found: $targets" >&2
  exit 1
fi
: > "$LOGS/summary.txt"
fuzz_rc=0
xargs -P "$JOBS" -I{} bash -c 'fuzz_one "$@"' _ {} <<<"$targets" || fuzz_rc=$?
[ $fuzz_rc -eq 0 ] || { echo "sanitize: FUZZING FOUND A CRASH, SANITIZER REPORT OR BROKEN INVARIANT (inputs in $ARTIFACTS)" >&2; exit 1; }
echo "sanitize: all done in $(( $(date +%s) - start )) s"
