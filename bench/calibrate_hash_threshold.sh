#!/usr/bin/env bash
# Calibrate the pHash near-duplicate threshold of `irbis dupes`.
# 1. `irbis sample OUT --tiles 8`: 37 real photos + 8 tiles each = 333 distinct images, plus the
#    sample's own altered copies (truth.csv);
# 2. bench/make_calibration_edits.py adds K edits per distinct image (round-robin over 26 kinds:
#    JPEG q20/50/90, resize 25/60/200 %, brightness, contrast, gamma, crop 2/5/10 %, rotation 2/5 deg,
#    blur, noise, caption, watermark, PNG, WebP, grayscale; "cnn" kinds: flip, 90-degree rotation,
#    40 % crop) -> truth_calib.csv;
# 3. indexes the folder and runs bench/calibrate_analysis.py (pair-level precision/recall of raw
#    pHash distances and of `irbis dupes --threshold t`, t = 0..TMAX; unrelated-pair distances;
#    false matches expected at 10k/50k/100k images).
#   usage: bench/calibrate_hash_threshold.sh [K=12] [TMAX=20]    -> bench/out/calib_report.md
set -euo pipefail
cd "$(dirname "$0")/.."
K=${1:-12}
TMAX=${2:-20}
PY=/usr/bin/python3
IRBIS=build/irbis
OUT=bench/out
[[ -x $IRBIS ]] || { echo "build first: cmake --build build -j2" >&2; exit 1; }
rm -rf $OUT/calib $OUT/calib.irbis
$IRBIS sample $OUT/calib --tiles 8
$PY bench/make_calibration_edits.py $OUT/calib "$K"
$IRBIS index $OUT/calib --into $OUT/calib.irbis --features hashes
$PY bench/calibrate_analysis.py $OUT/calib $OUT/calib.irbis $IRBIS "$TMAX" > $OUT/calib_report.md
echo "report: $OUT/calib_report.md"
