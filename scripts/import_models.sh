#!/usr/bin/env bash
# Imports the TF.js models unwrapped by scripts/fetch_models.sh (models/tfjs/<name>) into the
# model registry (models/onnx/<name>.onnx + <name>.json) with the built importer
# (`build/irbis model import`). Called by ./setup.sh after the build. Idempotent: a model whose
# card exists, whose ONNX file matches the card's sha256 and that is newer than its source is
# skipped. Each model is then calibrated for int8 (`irbis model calibrate`: activation ranges
# measured on every 3rd of Debian's sample photos, recorded in the card) unless its card has
# ranges of the current method and its mixed precision already. IRBIS=path/to/irbis overrides the binary; IRBIS_MODEL_DIR the output directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
IRBIS=${IRBIS:-$ROOT/build/irbis}
OUT=${IRBIS_MODEL_DIR:-$ROOT/models/onnx}
TFJS=$ROOT/models/tfjs
MODELS=(mobilenet_v2_mid mobilenet_v2 inception_v3)
# The calibration photos (opencv-doc, python3-skimage, python3-sklearn; setup.sh installs them).
PHOTO_DIRS=(/usr/share/doc/opencv-doc/examples/data /usr/lib/python3/dist-packages/skimage/data
            /usr/lib/python3/dist-packages/sklearn/datasets/images)
# Per model (docs/models.md, "int8 calibration"): inception_v3 takes MSE-clipped ranges and keeps
# its 147 px stem in bf16 (rounded to int8 it turns smooth gradients into contours); the
# MobileNets keep their min/max ranges (the gated mobilenet_v2_mid's 1-NN on a labelled set was
# lower with MSE clips). A card is up to date when it has ranges and the model's mark.
declare -A CALIBRATE_ARGS=([inception_v3]="--ranges mse --float-until activation_3")
declare -A CALIBRATED_MARK=([inception_v3]='"float_until": "activation_3"')
calibrate() {
  local m=$1 args=() mark=${CALIBRATED_MARK[$1]:-}
  if grep -q '"activation_ranges"' "$OUT/$m.json" && { [ -z "$mark" ] || grep -qF "$mark" "$OUT/$m.json"; }; then
    return 0
  fi
  for d in "${PHOTO_DIRS[@]}"; do [ -d "$d" ] && args+=(--photos "$d"); done
  if [ ${#args[@]} -eq 0 ]; then
    echo "import_models: no sample photos for the int8 calibration of $m (install opencv-doc); int8 unavailable" >&2
    return 0
  fi
  # shellcheck disable=SC2086  # the per-model options are words
  "$IRBIS" model --dir "$OUT" calibrate "$m" "${args[@]}" ${CALIBRATE_ARGS[$m]:---ranges max}
}

[ -x "$IRBIS" ] || { echo "import_models: $IRBIS not built; run ./setup.sh" >&2; exit 1; }
mkdir -p "$OUT"
for m in "${MODELS[@]}"; do
  if [ ! -s "$TFJS/$m/model.json" ]; then
    echo "import_models: $TFJS/$m missing; run scripts/fetch_models.sh (called by ./setup.sh)" >&2
    exit 1
  fi
  card=$OUT/$m.json onnx=$OUT/$m.onnx
  if [ -s "$card" ] && [ -s "$onnx" ] && [ "$onnx" -nt "$TFJS/$m/weights.bin" ] && [ "$card" -nt "$IRBIS" ] &&
     grep -q "\"sha256\": \"$(sha256sum "$onnx" | awk '{print $1}')\"" "$card"; then
    echo "import_models: $m up to date"
    calibrate "$m"
    continue
  fi
  "$IRBIS" model --dir "$OUT" import "$TFJS/$m" --package nsfwjs --package-version 4.3.0 --license MIT
  calibrate "$m"
done
