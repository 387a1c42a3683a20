# What `index` computes when the feature set changes between runs, on a few generated photos
# (the CNN runs on at most a dozen images):
#  - every image gets every feature the collection has, whatever --features says this run, so
#    new images never get zero embeddings or zero hashes (which would drop them from dupes);
#  - a feature added to an existing collection is back-filled for the images already in it;
#  - the hashes do not depend on whether the CNN runs in the same pass;
#  - a model card whose dimensions disagree with the network leaves the collection untouched,
#    and one whose weights differ from those that made the stored rows is refused.
source "$(dirname "$0")/lib/common.bash"

# Photo-like JPEGs large enough that the hashes' decode (1/8 DCT scale) and the CNN's (224 px)
# differ; batch 1 is indexed first, batch 2 arrives later.
$PY - "$WORK" <<'PYEOF'
import os, sys
import numpy as np, cv2
work = sys.argv[1]
rng = np.random.default_rng(11)
def photo():
    h, w = 720, 960
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        a, b, p = rng.uniform(0.002, 0.02, 3)
        img[..., c] = 128 + 90 * np.sin(xx * a + yy * b + p * 6)
    for _ in range(6):
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(30, 200)),
                   tuple(float(v) for v in rng.uniform(0, 255, 3)), -1)
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)
for batch, n in ((1, 5), (2, 3)):
    for i in range(n):
        cv2.imwrite(f"{work}/batch{batch}-{i}.jpg", photo(), [cv2.IMWRITE_JPEG_QUALITY, 90])
PYEOF
mkdir -p "$WORK/p1" "$WORK/all"
mv "$WORK"/batch1-*.jpg "$WORK/p1/"
cp "$WORK/p1/"*.jpg "$WORK/all/"
cp "$WORK"/batch2-*.jpg "$WORK/all/"
add_batch2() { cp "$WORK"/batch2-*.jpg "$1/"; }

# Reference: every image indexed at once with both features, and hashes alone.
run index "$WORK/all" --into "$WORK/ref.irbis" --json
assert_eq "$RC" 0 "reference run ($ERR)"
"$IRBIS" export "$WORK/ref.irbis" --embeddings "$WORK/ref.npy" --hashes "$WORK/ref.hashes.csv" 2> /dev/null
"$IRBIS" index "$WORK/all" --into "$WORK/refh.irbis" --features hashes > /dev/null
"$IRBIS" export "$WORK/refh.irbis" --hashes "$WORK/refh.hashes.csv" 2> /dev/null
assert_eq "$(cat "$WORK/ref.hashes.csv")" "$(cat "$WORK/refh.hashes.csv")" "hashes are the same with and without the CNN"

# Compares a collection's exports with the reference (by file name): same hashes, embeddings
# within 1e-5.
by_name() { sed 's|^[^,]*/||' "$1" | sort; }
same_as_reference() {
  "$IRBIS" export "$1" --embeddings "$WORK/x.npy" --hashes "$WORK/x.hashes.csv" 2> /dev/null
  assert_eq "$(by_name "$WORK/x.hashes.csv")" "$(by_name "$WORK/ref.hashes.csv")" "$2: hashes"
  $PY - "$WORK/ref.npy" "$WORK/x.npy" "$2" <<'PYEOF'
import csv, os, sys
import numpy as np
ref, got, what = sys.argv[1:4]
def load(npy):
    rows = {os.path.basename(r["path"]): int(r["row"]) for r in csv.DictReader(open(npy[:-4] + ".paths.csv"))}
    return rows, np.load(npy)
rp, re = load(ref)
gp, ge = load(got)
assert sorted(rp) == sorted(gp), f"{what}: exported images differ: {sorted(gp)}"
norms = np.linalg.norm(ge, axis=1)
assert np.allclose(norms, 1, atol=1e-4), f"{what}: embeddings not unit length: {norms}"
diff = max(np.abs(re[rp[p]] - ge[gp[p]]).max() for p in rp)
assert diff < 1e-5, f"{what}: embeddings differ from the reference by {diff}"
PYEOF
}

# 1. A CNN collection indexed later with --features hashes: new images still get embeddings.
cp -r "$WORK/p1" "$WORK/a"
"$IRBIS" index "$WORK/a" --into "$WORK/a.irbis" > /dev/null
add_batch2 "$WORK/a"
run index "$WORK/a" --into "$WORK/a.irbis" --features hashes --json
assert_eq "$RC" 0 "index --features hashes on a CNN collection ($ERR)"
assert_eq "$(json '(d["added"], d["also_computed"])')" "(3, ['cnn:mobilenet_v2_mid'])" "the collection's model is computed too"
run index "$WORK/a" --into "$WORK/a.irbis" --features hashes
assert_eq "$RC" 0 "unchanged re-run"
cp "$WORK/all/batch1-0.jpg" "$WORK/a/copy.jpg"
run index "$WORK/a" --into "$WORK/a.irbis" --features hashes
assert_contains "$ERR" "also computing cnn:mobilenet_v2_mid" "the run says what else it computes"
rm "$WORK/a/copy.jpg"
"$IRBIS" index "$WORK/a" --into "$WORK/a.irbis" --features hashes > /dev/null 2>&1
same_as_reference "$WORK/a.irbis" "hashes-only run on a CNN collection"

# 2. The reverse: --features cnn on a collection with hashes gives new images their hashes.
cp -r "$WORK/p1" "$WORK/b"
"$IRBIS" index "$WORK/b" --into "$WORK/b.irbis" > /dev/null
add_batch2 "$WORK/b"
run index "$WORK/b" --into "$WORK/b.irbis" --features cnn --json
assert_eq "$(json '(d["added"], d["also_computed"])')" "(3, ['hashes', 'quality'])" "the collection's hashes are computed too"
same_as_reference "$WORK/b.irbis" "cnn-only run on a collection with hashes"
run dupes "$WORK/b.irbis" --format json
assert_eq "$RC" 0 "dupes ($ERR)"

# 3. Hashes asked for on a CNN-only collection: back-filled for the images already there.
cp -r "$WORK/p1" "$WORK/c"
"$IRBIS" index "$WORK/c" --into "$WORK/c.irbis" --features cnn > /dev/null
add_batch2 "$WORK/c"
run index "$WORK/c" --into "$WORK/c.irbis" --features hashes --json
assert_eq "$(json '(d["added"], d["backfilled"], d["also_computed"])')" "(3, 5, ['cnn:mobilenet_v2_mid'])" "hashes back-filled"
same_as_reference "$WORK/c.irbis" "hashes added to a CNN-only collection"

# 4. A card whose block dimension disagrees with the network: refused before anything is
# declared, so fixing the card is enough.
M=$("$IRBIS" model list --json | $PY -c "
import json, sys, os; c = [m for m in json.load(sys.stdin) if m['name'] == 'mobilenet_v2_mid'][0]; print(c['card_path'])")
mkdir -p "$WORK/models"
$PY - "$M" "$WORK/models/mobilenet_v2_mid.json" <<'PYEOF'
import json, os, sys
src, dst = sys.argv[1:3]
c = json.load(open(src))
c["onnx"]["file"] = os.path.join(os.path.dirname(src), c["onnx"]["file"])
json.dump(c, open(dst + ".good", "w"), indent=2)
last = c["blocks"][-1]
assert last["name"] in c["descriptor"]["blocks"]
last["dim"] -= 100  # the network says otherwise
c["embedding_dim"] -= 100
c["descriptor"]["dim"] = c["embedding_dim"]
json.dump(c, open(dst, "w"), indent=2)
PYEOF
"$IRBIS" index "$WORK/p1" --into "$WORK/d.irbis" --features hashes > /dev/null
features() { "$IRBIS" info "$1" --json | $PY -c "import json,sys; print(sorted(f['name'] for f in json.load(sys.stdin)['features']))"; }
before=$(features "$WORK/d.irbis")
export IRBIS_MODEL_DIR=$WORK/models
run index "$WORK/p1" --into "$WORK/d.irbis"
assert_eq "$RC" 3 "a card that disagrees with its network is fatal"
assert_contains "$ERR" "the card says" "bad card message"
assert_eq "$(features "$WORK/d.irbis")" "$before" "the bad card declared nothing"
mv "$WORK/models/mobilenet_v2_mid.json.good" "$WORK/models/mobilenet_v2_mid.json"
run index "$WORK/p1" --into "$WORK/d.irbis" --json
assert_eq "$RC" 0 "after fixing the card ($ERR)"
assert_eq "$(json 'd["backfilled"]')" 5 "embeddings back-filled"

# 5. Other weights under the same model name: refused, not mixed into the stored rows.
$PY - "$WORK/models/mobilenet_v2_mid.json" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1])); c["onnx"]["sha256"] = "0" * 64; json.dump(c, open(sys.argv[1], "w"))
PYEOF
add_batch2 "$WORK/p1"
run index "$WORK/p1" --into "$WORK/d.irbis" --features hashes
assert_eq "$RC" 3 "other weights for the collection's model"
assert_contains "$ERR" "other weights" "weights mismatch message"
assert_eq "$("$IRBIS" info "$WORK/d.irbis" --json | $PY -c "import json,sys; print(json.load(sys.stdin)['images'])")" 5 "nothing added"
# A model the collection has that is no longer installed: refused, not left as zero rows.
mkdir -p "$WORK/no-models"
IRBIS_MODEL_DIR=$WORK/no-models run index "$WORK/p1" --into "$WORK/d.irbis" --features hashes
assert_eq "$RC" 3 "the collection's model is not installed"
assert_contains "$ERR" "has embeddings of model 'mobilenet_v2_mid', which every new image gets too, but it is not installed" \
  "missing model message"
unset IRBIS_MODEL_DIR
echo "PASS"
