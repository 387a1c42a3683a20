#!/usr/bin/env bash
# Sanitizer CI (issue 16): a second build folder (build-asan/) compiled by clang with
# AddressSanitizer + UndefinedBehaviorSanitizer (-O1, every UB report fatal) and the libFuzzer
# targets of fuzz/; runs the unit tests and the end-to-end tests that feed irbis's parsers
# (E2E_UNDER_SANITIZERS below) against it, then every fuzz target for a bounded number of seeded executions on its
# generated seed corpus. Any failing test, sanitizer report, fuzz crash, leak, timeout or broken
# invariant fails the script. `./test.sh` (and so CI) runs it after the normal tests;
# IRBIS_SANITIZE=0 skips it (docs/reliability.md has the time budget).
#   scripts/sanitize.sh               build, tests, fuzzing
#   scripts/sanitize.sh --build-only  configure and build only
#   scripts/sanitize.sh --fuzz-only   build, then fuzzing only (a longer local campaign)
# Environment: IRBIS_FUZZ_RUNS (default 10000) executions per fuzz target, seeded (-seed=1): the
# seed corpus, then mutations of it up to that count (what CI runs: a bounded amount of mutation
# whose verdict does not depend on the machine's speed, ~1 min for all targets; 0 replays the
# corpus only); IRBIS_FUZZ_SECONDS (default 0) seconds of mutation per target instead (decode and
# header get twice that; a local campaign); IRBIS_FUZZ_JOBS (default: nproc, at most 2) targets fuzzed at once;
# IRBIS_FUZZ_TARGETS (default: all) a regex of target names, e.g. 'decode|header|gif';
# IRBIS_ASAN_BUILD_DIR (default build-asan); IRBIS_SANITIZE_E2E (default: the set below; `all`
# for every end-to-end test but python, browser and demo) a regex of e2e test names.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${IRBIS_ASAN_BUILD_DIR:-build-asan}
FUZZ_SECONDS=${IRBIS_FUZZ_SECONDS:-0}
FUZZ_RUNS=${IRBIS_FUZZ_RUNS:-10000}
JOBS=${IRBIS_FUZZ_JOBS:-$(nproc)}
[ "$JOBS" -le 2 ] || JOBS=2
start=$(date +%s)

CXX=$(command -v clang++ || command -v clang++-14) || { echo "sanitize: clang++ not found (apt-get install clang libclang-rt-14-dev libomp-dev)" >&2; exit 1; }
CC=$(command -v clang || command -v clang-14)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# fuzzer-no-link: coverage instrumentation for the whole library, libFuzzer linked only into fuzz/.
# The ignore list turns AddressSanitizer off for Debian's hnswlib header only (its prefetch reads
# 4 bytes past a link list: F5 in docs/reliability.md, nmslib/hnswlib#578); UBSan stays on there.
FLAGS="$SAN -fsanitize-ignorelist=$ROOT/scripts/sanitize_ignorelist.txt -fsanitize=fuzzer-no-link -O1 -gline-tables-only"
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
# End-to-end tests under the sanitizers: the ones that feed irbis's parsers hostile or unusual
# bytes (every image format, damaged files, uploads and HTTP requests, model folders and cards,
# golden hashes of real photos, a killed index run's leftovers) plus one run of index + dupes +
# serve on the sample, and serve on a taken port (its exit is leak-checked: serve_port.sh). The rest (report, embeddings, classify, ...) repeat those code paths on
# valid input for minutes under ASan; IRBIS_SANITIZE_E2E=all runs them too. Never under the
# sanitizers: python (the module links the normal build), browser (chromium against the normal
# build's report), demo (minutes, covers nothing e2e.index_* and e2e.report do not).
E2E_UNDER_SANITIZERS='bad_input|formats|golden_hashes|index_dupes|json_equality|model_cli|parse_errors|resume|serve_hardening|serve_port'
E2E=${IRBIS_SANITIZE_E2E:-$E2E_UNDER_SANITIZERS}
[ "$E2E" = all ] && E2E='.*'
if [ "$MODE" != --fuzz-only ]; then
  # One ctest run (both cores busy until the end): every unit test, the chosen e2e tests.
  skip=$(ctest --test-dir "$BUILD" -N | grep -o 'e2e\.[A-Za-z0-9_]*' | sed 's/^e2e\.//' \
         | grep -Ev "^($E2E)\$" | grep -Ev '^(python|browser|demo)$' | paste -sd'|' || true)
  skip="python|browser|demo${skip:+|$skip}"
  tests_rc=0
  ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)" -E "^e2e\.($skip)\$" --timeout 900 || tests_rc=$?
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
  # Seconds 0: FUZZ_RUNS seeded executions (corpus, then mutations). Leaks inside Debian's libdav1d
  # are suppressed (F7 in docs/reliability.md: reached through libavif on hostile AVIFs, not ours).
  local budget=(-max_total_time="$secs") what="${secs} s"
  [ "$secs" -gt 0 ] || { budget=(-runs="$FUZZ_RUNS" -seed=1); what="seeded, at most $FUZZ_RUNS runs"; }
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" LSAN_OPTIONS="suppressions=$ROOT/scripts/lsan_suppressions.txt" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" "$exe" "$CORPUS/$name" "${budget[@]}" -timeout=20 \
    -rss_limit_mb=2560 -max_len=262144 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$name-" \
    > "$LOGS/$name.log" 2>&1
  local rc=$?
  local execs corpus
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOGS/$name.log" | grep -o '[0-9]*$' || echo "?")
  corpus=$(ls "$CORPUS/$name" | wc -l)
  if [ $rc -ne 0 ]; then
    echo "sanitize: fuzz_$name FAILED (exit $rc), $what; log $LOGS/$name.log:"
    grep -E 'ERROR|SUMMARY|invariant|Test unit written|uncaught|runtime error' "$LOGS/$name.log" | head -20
    return 1
  fi
  echo "sanitize: fuzz_$name ok: $what, $execs executions, corpus $corpus files" | tee -a "$LOGS/summary.txt"
}
export -f fuzz_one
export CORPUS ARTIFACTS LOGS FUZZ_SECONDS FUZZ_RUNS ROOT
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
