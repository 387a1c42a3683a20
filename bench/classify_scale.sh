#!/usr/bin/env bash
# Issue 17's speed targets side by side, one run:
#   1. `train` on 10,000 images x the default candidates incl. cross-validation (target <= 60 s on
#      2 cores): classify_bench's train_auto on 10,000 synthetic rows of the default model's
#      widths, 11 classes (full 2696-d, blocks 3720-d, blocks-sqrt 3720-d; everything `irbis train`
#      does after loading the rows), and train_auto_with_rff (+ blocks-sqrt-rff, 4096-d);
#   2. `predict` of N generated image files (default 1,000) against the time to embed them (target:
#      predict <= embed + 1 s): `irbis index --features cnn` of the same files (decode + CNN, the
#      catalog writes included), then `irbis predict CLF FILES...` with a classifier trained on them,
#      once with the default choice and once with --input blocks-sqrt-rff forced.
# Usage: bench/classify_scale.sh [build-dir] [N]
set -euo pipefail
BUILD=${1:-build}
N=${2:-1000}
PY=/usr/bin/python3
IRBIS="$BUILD/irbis"
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -x "$IRBIS" ] && [ -x "$BUILD/bench/classify_bench" ] || { echo "build irbis and classify_bench first" >&2; exit 1; }
echo "machine: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

clock() { date +%s.%N; }
cpu_of() {  # command... -> prints "wall s, CPU s" of the command (its output discarded)
  local t0 t1
  t0=$(clock)
  /usr/bin/time -o "$TMP/time" -f '%U %S' "$@" >/dev/null 2>&1
  t1=$(clock)
  echo "$(echo "$t1 - $t0" | bc) s wall, $(awk '{print $1 + $2}' "$TMP/time") s CPU"
}

echo "1. train on 10,000 images x the default candidates (train_auto) and with blocks-sqrt-rff too"
IRBIS_BENCH_AUTO_ROWS=10000 "$BUILD/bench/classify_bench" --benchmark_filter=train_auto 2>/dev/null | grep train_auto

echo "2. predict $N files vs embedding them"
per_class=$(( (N + 10) / 11 ))
"$PY" "$HERE/../scripts/make_texture_set.py" "$TMP/set" --kind fabric --per-class "$per_class" --heldout 1 >/dev/null
mapfile -t FILES < <(find "$TMP/set/train" -type f | sort | head -n "$N")
mkdir -p "$TMP/files"
for f in "${FILES[@]}"; do cp "$f" "$TMP/files/$(basename "$(dirname "$f")")_$(basename "$f")"; done
echo "   $(ls "$TMP/files" | wc -l) files"
echo "   embed (irbis index --features cnn): $(cpu_of "$IRBIS" index "$TMP/files" --into "$TMP/emb.irbis" --features cnn)"
"$IRBIS" index "$TMP/set/train" --into "$TMP/train.irbis" --features cnn >/dev/null
"$IRBIS" train "$TMP/train.irbis" --labels folders --out "$TMP/auto.clf" --seed 1 --json >"$TMP/auto.json"
"$IRBIS" train "$TMP/train.irbis" --labels folders --out "$TMP/rff.clf" --seed 1 --input blocks-sqrt-rff >/dev/null
echo "   (default classifier: input $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["input"])' "$TMP/auto.json"))"
echo "   predict, default classifier:        $(cpu_of "$IRBIS" predict "$TMP/auto.clf" "$TMP"/files/* --format csv)"
echo "   predict, blocks-sqrt-rff classifier: $(cpu_of "$IRBIS" predict "$TMP/rff.clf" "$TMP"/files/* --format csv)"
