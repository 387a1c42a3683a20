#!/usr/bin/env bash
# `irbis match` on a Copydays-style set (docs/calibration.md, "match"): the edited copies against a
# collection of their originals plus hard negatives (other frames, stereo partners, viewpoints),
# with CNN and with hashes only; then the negatives against the originals alone (every pair false).
# usage: bench/match_copydays.sh [SET=/tmp/h14set] [IRBIS=build/irbis]
set -euo pipefail
SET=${1:-/tmp/h14set}
IRBIS=${2:-build/irbis}
PY=/usr/bin/python3
[ -f "$SET/truth.csv" ] || $PY "$(dirname "$0")/make_copydays_set.py" "$SET"
W=$(mktemp -d)
mkdir -p "$W/coll"
ln -s "$(realpath "$SET/orig")" "$W/coll/orig"
ln -s "$(realpath "$SET/neg")" "$W/coll/neg"
"$IRBIS" index "$W/coll" --into "$W/c.irbis" > /dev/null
"$IRBIS" index "$SET/orig" --into "$W/o.irbis" > /dev/null
n=$(ls "$SET/edit" | wc -l)
for mode in cnn hashes; do
  extra=(); [ "$mode" = hashes ] && extra=(--no-cnn)
  s=$(date +%s.%N)
  "$IRBIS" match "$W/c.irbis" "$SET/edit" "${extra[@]}" --json > "$W/$mode.json" || true
  e=$(date +%s.%N)
  echo "== $mode: $n queries against $(ls "$SET/orig" "$SET/neg" | grep -c .) images, $(echo "$e - $s" | bc) s"
  $PY "$(dirname "$0")/score_match.py" "$SET" "$W/$mode.json"
done
"$IRBIS" match "$W/o.irbis" "$SET/neg" --json > "$W/neg.json" || true
echo "== negatives against the originals alone"
$PY "$(dirname "$0")/score_match.py" "$SET" "$W/neg.json" --negatives
rm -rf "$W"
