# CNN inference engines end to end (docs/models.md): --engine / --precision on index and search,
# the engine/precision recorded in the collection, interchangeable fp32 engines sharing a
# collection, a non-interchangeable precision refused, bad values refused.
source "$(dirname "$0")/lib/common.bash"

mkdir -p "$WORK/pics"
for f in aloeL baboon fruits building; do
  cp "/usr/share/doc/opencv-doc/examples/data/$f.jpg" "$WORK/pics/$f.jpg"
done
meta() { sqlite3 "$WORK/a.irbis/catalog.sqlite" "select value from meta where key = '$1'"; }

run index "$WORK/pics" --into "$WORK/a.irbis" --engine onednn --precision fp32 --json
assert_eq "$RC" 0 "index with oneDNN fp32 ($ERR)"
assert_eq "$(meta model.mobilenet_v2_mid.inference)" "onednn/fp32" "recorded engine/precision"

# fp32 from OpenCV DNN is interchangeable: new images join, and match the oneDNN rows.
cp "/usr/share/doc/opencv-doc/examples/data/aloeR.jpg" "$WORK/pics/aloeR.jpg"
run index "$WORK/pics" --into "$WORK/a.irbis" --engine opencv --json
assert_eq "$RC" 0 "add with OpenCV DNN fp32 ($ERR)"
assert_eq "$(json 'd["ok"]')" "1" "one new image embedded"
run search "$WORK/a.irbis" "$WORK/pics/baboon.jpg" --engine opencv -k 1 --json
assert_eq "$RC" 0 "search with OpenCV DNN ($ERR)"
$PY - "$OUT" <<'PYEOF'
import json, sys
d = json.loads(sys.argv[1])
hit = (d["results"] if isinstance(d, dict) else d)[0]
assert hit["path"].endswith("baboon.jpg"), hit
assert hit["similarity"] > 0.9999, f"OpenCV DNN query vs oneDNN row of the same photo: {hit['similarity']}"
PYEOF

# bf16 is not interchangeable with fp32 rows: refused, naming what made them. A CPU without bf16
# instructions (AVX2 only: AMD Zen 3) refuses bf16 itself, naming the CPU's ISA.
cp "/usr/share/doc/opencv-doc/examples/data/orange.jpg" "$WORK/pics/orange.jpg"
run index "$WORK/pics" --into "$WORK/a.irbis" --engine onednn --precision bf16
assert_eq "$RC" 3 "bf16 into an fp32 collection is refused"
if grep -qwE "avx512_bf16|amx_bf16" /proc/cpuinfo; then
  assert_contains "$ERR" "onednn/fp32" "the message names the stored engine/precision"
else
  assert_contains "$ERR" "no bf16 convolution" "the message says bf16 is missing"
  assert_contains "$ERR" "on this CPU" "... on this CPU"
fi
# auto follows the collection's precision.
run index "$WORK/pics" --into "$WORK/a.irbis" --json
assert_eq "$RC" 0 "auto precision on an fp32 collection ($ERR)"
assert_eq "$(meta model.mobilenet_v2_mid.inference)" "onednn/fp32" "still fp32"

# Bad values.
run index "$WORK/pics" --into "$WORK/b.irbis" --engine tensorrt
assert_eq "$RC" 1 "unknown engine"
assert_contains "$ERR" "unknown inference engine 'tensorrt'" "names the bad engine"
run index "$WORK/pics" --into "$WORK/b.irbis" --engine opencv --precision bf16
assert_eq "$RC" 1 "bf16 on OpenCV DNN"
assert_contains "$ERR" "fp32 only" "explains OpenCV's precision"
run index "$WORK/pics" --into "$WORK/b.irbis" --engine opencv --precision int8
assert_eq "$RC" 1 "int8 on OpenCV DNN"

# int8 (the card's calibration from scripts/import_models.sh): recorded, and not mixed with fp32.
run index "$WORK/pics" --into "$WORK/a.irbis" --engine onednn --precision int8
assert_eq "$RC" 3 "int8 into an fp32 collection is refused"
assert_contains "$ERR" "onednn/fp32" "the message names the stored engine/precision"
run index "$WORK/pics" --into "$WORK/c.irbis" --precision int8 --json
assert_eq "$RC" 0 "index with int8 ($ERR)"
assert_eq "$(sqlite3 "$WORK/c.irbis/catalog.sqlite" "select value from meta where key = 'model.mobilenet_v2_mid.inference'")" \
  "onednn/int8" "int8 recorded"

# `irbis model calibrate` on a copy of the registry: ranges recorded in the card; bad folders refused.
mkdir -p "$WORK/models"
MODELS_DIR=${IRBIS_MODEL_DIR:-$(dirname "$IRBIS")/../models/onnx}
cp "$MODELS_DIR/mobilenet_v2_mid.onnx" "$WORK/models/"
$PY - "$MODELS_DIR/mobilenet_v2_mid.json" "$WORK/models/mobilenet_v2_mid.json" <<'PYEOF'
import json, sys
card = json.load(open(sys.argv[1]))
card.pop("int8", None)
json.dump(card, open(sys.argv[2], "w"))
PYEOF
run model --dir "$WORK/models" calibrate mobilenet_v2_mid --photos "$WORK/pics"
assert_eq "$RC" 1 "too few photos (every 3rd of 6)"
assert_contains "$ERR" "only 2 usable photos" "says how many"
run model --dir "$WORK/models" calibrate mobilenet_v2_mid --photos /usr/share/doc/opencv-doc/examples/data --every 8
assert_eq "$RC" 0 "calibrate ($ERR)"
assert_contains "$OUT" "calibrated mobilenet_v2_mid for int8" "reports the calibration"
$PY - "$WORK/models/mobilenet_v2_mid.json" <<'PYEOF'
import json, sys
q = json.load(open(sys.argv[1]))["int8"]
assert q["calibration"]["photos"] >= 8 and "every 8th" in q["calibration"]["photo_set"], q["calibration"]
assert len(q["activation_ranges"]) > 50 and all(lo <= hi for lo, hi in q["activation_ranges"].values())
PYEOF
run model --dir "$WORK/models" calibrate mobilenet_v2_mid --photos "$WORK/nowhere"
assert_eq "$RC" 1 "a missing folder"
assert_contains "$ERR" "not a folder" "names the problem"
echo "engines: ok"
