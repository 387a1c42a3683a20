# dupes --cnn and match find a 50 % crop of a photo (the centre keeping half the area) that has
# many re-encoded copies in the collection: the copies fill the crop's nearest neighbours, and the
# crop must still be tied to the kept photo itself, with the evidence (kind cnn or verified, its
# own similarity to the photo). Unrelated photos stay out of the group.
source "$(dirname "$0")/lib/common.bash"
CV=/usr/share/doc/opencv-doc/examples/data
[ -f "$CV/building.jpg" ] || fail "opencv-doc sample photos missing (setup.sh installs opencv-doc)"

mkdir -p "$WORK/pics" "$WORK/orig" "$WORK/q"
# The photo keeps its (older) modification time: of equal pixel counts it is the one kept.
cp -p "$CV/building.jpg" "$WORK/pics/building.jpg"
touch -d "2020-01-01" "$WORK/pics/building.jpg"
for f in baboon messi5 starry_night home fruits; do cp "$CV/$f.jpg" "$WORK/pics/"; done
cp -p "$WORK/pics/"{building,baboon,messi5,starry_night,home}.jpg "$WORK/orig/"
$PY - "$CV" "$WORK/pics" "$WORK/q" <<'PYEOF'
import sys, cv2, numpy as np
cv, pics, q = sys.argv[1:4]
img = cv2.imread(f"{cv}/building.jpg")
# 20 copies of the photo: JPEG re-encodes and small brightness changes (same size).
for k, qual in enumerate(range(95, 35, -3)):
    copy = np.clip(img.astype(np.int16) + (k % 5) - 2, 0, 255).astype(np.uint8)
    cv2.imwrite(f"{pics}/building_copy{k:02d}.jpg", copy, [cv2.IMWRITE_JPEG_QUALITY, qual])
h, w = img.shape[:2]
s = 0.5 ** 0.5  # half the area, same aspect
ch, cw = round(h * s), round(w * s)
crop = img[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]
cv2.imwrite(f"{pics}/building_crop50.png", crop)
cv2.imwrite(f"{q}/building_crop50.png", crop)
PYEOF

run index "$WORK/pics" --into "$WORK/c.irbis"
assert_eq "$RC" 0 "index ($ERR)"
run dupes "$WORK/c.irbis" --cnn --json
assert_eq "$RC" 0 "dupes --cnn ($ERR)"
$PY - <<PYEOF || fail "dupes --cnn: the crop is not a duplicate of the photo: $OUT"
import json, os
d = json.loads('''$OUT''')
groups = [g for g in d["groups"] if os.path.basename(g["keep"]["path"]) == "building.jpg"]
assert len(groups) == 1, [g["keep"]["path"] for g in d["groups"]]
dups = {os.path.basename(m["path"]): m for m in groups[0]["duplicates"]}
assert set(dups) == {f"building_copy{k:02d}.jpg" for k in range(20)} | {"building_crop50.png"}, sorted(dups)
crop = dups["building_crop50.png"]
assert crop["kind"] in ("cnn", "verified"), crop
assert crop["similarity"] is not None and 0.8 <= crop["similarity"] < 1, crop
assert crop["kind"] == "cnn" or crop["inliers"] >= 12, crop
for g in d["groups"]:
    for m in g["duplicates"]:
        assert os.path.basename(m["path"]).startswith("building"), ("unrelated photo grouped", g)
PYEOF
# With the approximate index (the self-join, as above 10 000 images) the crop is found too, and no
# HNSW graph is built or written: dupes never queries it.
run dupes "$WORK/c.irbis" --cnn --index hnsw --json
assert_eq "$RC" 0 "dupes --cnn --index hnsw ($ERR)"
$PY - <<PYEOF || fail "dupes --cnn --index hnsw: the crop is not a duplicate of the photo: $OUT"
import json, os
d = json.loads('''$OUT''')
groups = [g for g in d["groups"] if os.path.basename(g["keep"]["path"]) == "building.jpg"]
assert len(groups) == 1 and "building_crop50.png" in {os.path.basename(m["path"]) for m in groups[0]["duplicates"]}, d
PYEOF
ls "$WORK/c.irbis/index/"*.hnsw > /dev/null 2>&1 && fail "dupes --cnn built an HNSW graph: $(ls "$WORK/c.irbis/index")"
# The self-join's answer was saved (docs/search.md, "The saved self-join"); the next run reads it
# and answers the same, evidence for evidence.
ls "$WORK/c.irbis/index/"*.self10.knn > /dev/null 2>&1 || fail "dupes --cnn --index hnsw saved no self-join: $(ls "$WORK/c.irbis/index")"
FIRST=$OUT
run dupes "$WORK/c.irbis" --cnn --index hnsw --json
assert_eq "$RC" 0 "dupes --cnn --index hnsw, second run ($ERR)"
$PY - <<PYEOF || fail "dupes --cnn --index hnsw: the second run (saved self-join) answers differently"
import json
a, b = json.loads('''$FIRST'''), json.loads('''$OUT''')
for d in (a, b):
    for k in [k for k in d if k.endswith("seconds")]:
        del d[k]
assert a == b, (a, b)
PYEOF

# match: the crop against a collection of the photo and unrelated ones finds the photo first.
run index "$WORK/orig" --into "$WORK/o.irbis"
assert_eq "$RC" 0 "index originals ($ERR)"
run match "$WORK/o.irbis" "$WORK/q/building_crop50.png" --json
assert_eq "$RC" 0 "match ($ERR)"
$PY - <<PYEOF || fail "match: the crop does not find the photo: $OUT"
import json
d = json.loads('''$OUT''')
m = d["results"][0]["matches"]
assert m and m[0]["name"] == "building.jpg", m
assert m[0]["kind"] in ("cnn", "verified") and m[0]["similarity"] is not None, m[0]
assert all(x["name"] == "building.jpg" for x in m), m
PYEOF
echo "dupes_crop: ok"
