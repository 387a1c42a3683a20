#!/usr/bin/env bash
# A/B timing of two irbis binaries on the same images (e.g. main's and a branch's, for a change
# that must not cost speed): runs `index` with each, alternating A, B, A, B ... ROUNDS times into
# fresh collections, prints every run and the median wall and CPU (user+sys) seconds of each, and
# checks that both wrote byte-identical feature files.
#   usage: bench/index_ab.sh BIN_A BIN_B IMAGE_DIR [ROUNDS=5] [index options, e.g. --features hashes]
set -euo pipefail
A=$1 B=$2 IMG=$3
ROUNDS=${4:-5}
shift $(( $# < 4 ? $# : 4 ))
OUT=$(mktemp -d /tmp/irbis-index-ab.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
cat "$IMG"/* > /dev/null  # every run starts from the page cache
echo "== $(date -u '+%F %T UTC')  $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(ls "$IMG" | wc -l) files in $IMG; index options: ${*:-(default)}"
TIMEFORMAT='%R %U %S'
for r in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    bin=$A; [[ $side == B ]] && bin=$B
    rm -rf "$OUT/$side.irbis"
    t=$( { time "$bin" index "$IMG" --into "$OUT/$side.irbis" "$@" > /dev/null 2>&1; } 2>&1 )
    echo "$side $t" | tee -a "$OUT/times"
  done
done
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for side in A B; do
  wall=$(awk -v s=$side '$1 == s { print $2 }' "$OUT/times" | median)
  cpu=$(awk -v s=$side '$1 == s { print $3 + $4 }' "$OUT/times" | median)
  echo "$side median of $ROUNDS: $wall s wall, $cpu s CPU (user+sys)"
done
for f in "$OUT"/A.irbis/features/*.f; do
  cmp -s "$f" "$OUT/B.irbis/features/$(basename "$f")" || { echo "DIFFERENT: $(basename "$f")"; exit 1; }
done
echo "feature files identical: $(cd "$OUT/A.irbis/features" && echo *.f)"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
