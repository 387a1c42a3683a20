#!/usr/bin/env bash
# The classifier's default flow before and after issue 17, and scikit-learn on the same features.
# A labelled set DIR/train/<class>/* (what the user labels) and DIR/heldout/<class>/* (unseen
# images of the same classes) is indexed into two collections; then
#   1. old default: `irbis train --input full --no-refit` (descriptor, 30 % held out of the saved
#      model), `irbis predict --collection` on the held-out collection;
#   2. new default: `irbis train` (CV picks the input and the penalty; refit on every image), predict;
#   3. scikit-learn LogisticRegression (lbfgs, multinomial, standardised, balanced, C chosen by
#      3-fold CV over the same grid) on the same exported features (descriptor, blocks,
#      blocks-sqrt), fitted on every training image, scored on the held-out images.
# Accuracy = share of held-out images whose predicted class is their folder.
# Usage: bench/classify_vs_sklearn.sh DIR [build-dir]   (DIR from scripts/make_texture_set.py)
# Environment: INDEXED=PREFIX reuses collections PREFIX.train.irbis and PREFIX.heldout.irbis
# (already indexed from DIR/train and DIR/heldout) instead of indexing again; SKLEARN=0 skips part 3
# (scikit-learn's lbfgs needs minutes per input at the weakest penalty on a loaded machine);
# MODEL=NAME trains on that model's embeddings (e.g. inception_v3; the collections must have them:
# `irbis index DIR/train --into PREFIX.train.irbis --model NAME`); INPUTS="full blocks ..." sets the
# forced inputs of part 2 (default: every input).
set -euo pipefail
DIR=$1
BUILD=${2:-build}
PY=/usr/bin/python3
IRBIS="$BUILD/irbis"
MODEL=${MODEL:-mobilenet_v2_mid}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -x "$IRBIS" ] || { echo "build $IRBIS first" >&2; exit 1; }
echo "machine: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $MODEL"
echo "set: $DIR: train $(find "$DIR/train" -type f | wc -l) images, heldout $(find "$DIR/heldout" -type f | wc -l)"
# (the collections are used where they are: irbis refuses a collection reached through a symlink)
if [ -n "${INDEXED:-}" ]; then
  TRAIN=$INDEXED.train.irbis
  HELD=$INDEXED.heldout.irbis
else
  TRAIN=$TMP/train.irbis
  HELD=$TMP/held.irbis
  "$IRBIS" index "$DIR/train" --into "$TRAIN" >/dev/null
  "$IRBIS" index "$DIR/heldout" --into "$HELD" >/dev/null
fi

score() {  # predictions CSV (path,label,...) -> accuracy against the parent folder
  "$PY" -c '
import csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ok = sum(os.path.basename(os.path.dirname(r["path"])) == r["label"] for r in rows)
print(f"{ok / len(rows):.4f} ({ok}/{len(rows)})")' "$1"
}

run() {  # name, train options...
  local name=$1
  shift
  local t0 t1
  t0=$(date +%s.%N)
  "$IRBIS" train "$TRAIN" --labels folders --out "$TMP/$name.clf" --seed 1 --json --model "$MODEL" "$@" >"$TMP/$name.json"
  t1=$(date +%s.%N)
  "$IRBIS" predict "$TMP/$name.clf" --collection "$HELD" --out "$TMP/$name.csv" >/dev/null 2>&1
  "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
cv = " ".join("%s=%.3f" % (c["input"], c["accuracy"]) for c in r.get("inputs_cv", []))
t = r["test"]
print("  input %s (%s; %s), l2 %g, test split %.4f, ECE %.3f at temperature %.3f (%.3f at 1), saved: %s on %d images, train %.2f s" % (
    r["input"], r["input_chosen_by"], cv or "-", r["l2"], t["accuracy"], t["ece"], r.get("temperature", 1),
    t.get("ece_uncalibrated", t["ece"]), r["saved_model"], r["saved_model_images"], float(sys.argv[2])))
' "$TMP/$name.json" "$(echo "$t1 - $t0" | bc)"
  echo "  held-out accuracy: $(score "$TMP/$name.csv")"
}

echo "1. old default (irbis train --input full --no-refit)"
run old --input full --no-refit
echo "2. new default (irbis train)"
run new
for input in ${INPUTS:-full blocks blocks-sqrt blocks-sqrt-rff}; do
  echo "   forced --input $input"
  run "forced-$input" --input "$input"
done

[ "${SKLEARN:-1}" = 0 ] && exit 0
for v in full blocks; do
  "$IRBIS" export "$TRAIN" --view "$v" --embeddings "$TMP/train.$v.npy" >/dev/null
  "$IRBIS" export "$HELD" --view "$v" --embeddings "$TMP/held.$v.npy" >/dev/null
done
echo "3. scikit-learn $("$PY" -c 'import sklearn; print(sklearn.__version__)') LogisticRegression on the exported features"
"$PY" "$(dirname "$0")/classify_sklearn.py" "$TMP" "$IRBIS"
