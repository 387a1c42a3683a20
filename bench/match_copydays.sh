#!/usr/bin/env bash
# `irbis match` on a Copydays-style set (docs/calibration.md, "match"): the edited copies against a
# collection of their originals plus hard negatives (other frames, stereo partners, viewpoints),
# with CNN and with hashes only; then the negatives against the originals alone (every pair false).
# With a second binary (BEFORE), both run on the same collections in the same run, BEFORE first,
# for a before/after table; wall and CPU seconds (user + system) of each match process.
# usage: bench/match_copydays.sh [SET=/tmp/h14set] [IRBIS=build/irbis] [BEFORE]
#   MATCH_KEEP=DIR keeps the collections and each run's JSON there (reused by the next run).
set -euo pipefail
SET=${1:-/tmp/h14set}
IRBIS=${2:-build/irbis}
BEFORE=${3:-}
PY=/usr/bin/python3
[ -f "$SET/truth.csv" ] || $PY "$(dirname "$0")/make_copydays_set.py" "$SET"
W=${MATCH_KEEP:-$(mktemp -d)}
mkdir -p "$W/coll"
ln -sfn "$(realpath "$SET/orig")" "$W/coll/orig"
ln -sfn "$(realpath "$SET/neg")" "$W/coll/neg"
[ -d "$W/c.irbis" ] || "$IRBIS" index "$W/coll" --into "$W/c.irbis" > /dev/null
[ -d "$W/o.irbis" ] || "$IRBIS" index "$SET/orig" --into "$W/o.irbis" > /dev/null
n=$(ls "$SET/edit" | wc -l)
bins=("$IRBIS"); names=(after)
[ -n "$BEFORE" ] && bins=("$BEFORE" "$IRBIS") && names=(before after)
for b in "${!bins[@]}"; do
  bin=${bins[$b]}; name=${names[$b]}
  for mode in cnn hashes; do
    extra=(); [ "$mode" = hashes ] && extra=(--no-cnn)
    /usr/bin/time -f "%e %U %S" -o "$W/time" "$bin" match "$W/c.irbis" "$SET/edit" "${extra[@]}" --json > "$W/$name-$mode.json" || true
    read -r wall user sys < "$W/time"
    echo "== $name $mode: $n queries against $(ls "$SET/orig" "$SET/neg" | grep -c .) images, wall $wall s, CPU $(echo "$user + $sys" | bc) s"
    $PY "$(dirname "$0")/score_match.py" "$SET" "$W/$name-$mode.json"
  done
  "$bin" match "$W/o.irbis" "$SET/neg" --json > "$W/neg.json" || true
  echo "== $name: negatives against the originals alone"
  $PY "$(dirname "$0")/score_match.py" "$SET" "$W/neg.json" --negatives
done
[ -n "${MATCH_KEEP:-}" ] || rm -rf "$W"
