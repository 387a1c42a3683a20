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

# bf16 is not interchangeable with fp32 rows: refused, naming what made them.
cp "/usr/share/doc/opencv-doc/examples/data/orange.jpg" "$WORK/pics/orange.jpg"
run index "$WORK/pics" --into "$WORK/a.irbis" --engine onednn --precision bf16
assert_eq "$RC" 3 "bf16 into an fp32 collection is refused"
assert_contains "$ERR" "onednn/fp32" "the message names the stored engine/precision"
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
echo "engines: ok"
