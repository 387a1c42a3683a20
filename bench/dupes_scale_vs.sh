#!/bin/sh
# Side by side on the same synthetic rows and under the same load: a dupes_scale_bench built from
# another commit (BEFORE, e.g. main's build/bench/dupes_scale_bench) and this tree's, at 100 000
# and 1 000 000 rows, each in its own process (CPU, wall, peak RSS of the process).
#
#   bench/dupes_scale_vs.sh BEFORE_BENCH [AFTER_BENCH=build/bench/dupes_scale_bench] [SIZES="100000 1000000"]
#
# "nodry" is one grouping pass without verify_all (what the bench before timed); the last run of
# each size has find_collection_dupes' verify_all dry passes. For the in-process check that the
# band search of before and today's give identical groups: dupes_scale_bench N 1000 2 both.
set -e
M=${1:?usage: dupes_scale_vs.sh BEFORE_BENCH [AFTER_BENCH] [SIZES]}
B=${2:-build/bench/dupes_scale_bench}
SIZES=${3:-"100000 1000000"}
for n in $SIZES; do
  echo "== n=$n  $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "-- before ($M)"; /usr/bin/time -f "process: %U s user %S s sys %e s wall, max RSS %M KB" "$M" "$n" 1000 2 2>&1
  echo "-- after nodry"; /usr/bin/time -f "process: %U s user %S s sys %e s wall, max RSS %M KB" "$B" "$n" 1000 2 nodry 2>&1
  echo "-- after (verify_all dry passes)"; /usr/bin/time -f "process: %U s user %S s sys %e s wall, max RSS %M KB" "$B" "$n" 1000 2 2>&1
done
