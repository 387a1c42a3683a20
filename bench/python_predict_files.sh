#!/usr/bin/env bash
# Python's Classifier.predict of image files, two builds side by side (issue 17: Python moved onto
# irbis::predict_files, one single-threaded network per core, like `irbis predict FILES`): one
# classifier trained on the files' own embeddings (two arbitrary classes: the timing does not
# depend on them), then each build's Python module predicts every file in a fresh process
# (network loading included, as a first call pays it), alternately ROUNDS times; wall and CPU
# (the classifier is written by OLD's irbis: every build reads the older file format)
# (user + sys) per run, and whether both builds' outputs are identical.
# Usage: bench/python_predict_files.sh OLD_BUILD NEW_BUILD IMAGE_DIR [ROUNDS]
set -euo pipefail
OLD=$1 NEW=$2 DIR=$3 ROUNDS=${4:-2}
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "machine: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$OLD/irbis" index "$DIR" --into "$TMP/c.irbis" --features cnn >/dev/null
find "$DIR" -maxdepth 1 -type f | sort | awk '{print $0 "," (NR % 2 ? "a" : "b")}' | sed '1i path,label' >"$TMP/labels.csv"
"$OLD/irbis" train "$TMP/c.irbis" --labels "$TMP/labels.csv" --out "$TMP/c.clf" --input full --l2 1 >/dev/null
cat >"$TMP/predict.py" <<'PYEOF'
import sys, glob, irbis
clf = irbis.Classifier.load(sys.argv[1])
df = clf.predict(sorted(glob.glob(sys.argv[2] + "/*")))
df.drop(columns=["path"]).to_csv(sys.argv[3], float_format="%.6f")
PYEOF
echo "$(find "$DIR" -maxdepth 1 -type f | wc -l) files"
for r in $(seq "$ROUNDS"); do
  for b in "$OLD" "$NEW"; do
    /usr/bin/time -o "$TMP/t" -f '%e %U %S' env PYTHONPATH="$b/python" "$PY" "$TMP/predict.py" "$TMP/c.clf" "$DIR" "$TMP/out_$(basename "$(dirname "$b")")_$r.csv"
    read -r wall user sys <"$TMP/t"
    echo "round $r $b: $wall s wall, $(echo "$user + $sys" | bc) s CPU (load $(cut -d' ' -f1 /proc/loadavg))"
  done
done
o=$(ls "$TMP"/out_*.csv | head -1)
for f in "$TMP"/out_*.csv; do cmp -s "$o" "$f" || echo "outputs differ: $f"; done
echo "outputs compared: $(ls "$TMP"/out_*.csv | wc -l) runs"
