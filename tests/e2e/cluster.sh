# Clusters end to end on the sample collection, whose ground truth groups every altered copy with
# its original photo: --auto must find about as many clusters as photos and agree with the groups.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
"$IRBIS" index "$WORK/pics" --into "$WORK/c.irbis" > /dev/null
# Labels: the photo each file derives from (its "family").
$PY - "$WORK/pics" > "$WORK/labels.csv" <<'PYEOF'
import csv, os, sys
root = os.path.realpath(sys.argv[1])
print("path,label")
for t in csv.DictReader(open(os.path.join(root, "truth.csv"))):
    print(f'{os.path.join(root, t["path"])},{os.path.basename(t["original"] or t["path"])}')
PYEOF
PHOTOS=$(grep -c ',original$' "$WORK/pics/truth.csv")

run cluster "$WORK/c.irbis" --auto --k-range 2..45 --labels "$WORK/labels.csv" --out "$WORK/clusters.csv" \
    --plot "$WORK/map.svg" --plot-k "$WORK/k.png" --json
assert_eq "$RC" 0 "cluster --auto ($ERR)"
grep -q "range tried" <<<"$ERR" && fail "a k inside the range is no edge: $ERR"
k=$(json 'd["k"]')
[ "$k" -ge $((PHOTOS - 6)) ] && [ "$k" -le $((PHOTOS + 6)) ] || fail "auto k $k far from the $PHOTOS photos"
assert_eq "$(json 'd["label_scores"]["ari"] > 0.8 and d["label_scores"]["purity"] > 0.85')" True "agreement with the photo groups"
assert_eq "$(head -1 "$WORK/clusters.csv")" "path,cluster,x,y,distance_to_centroid" "CSV header"
assert_eq "$(($(wc -l < "$WORK/clusters.csv") - 1))" "$(($(wc -l < "$WORK/pics/truth.csv") - 1))" "one CSV row per image"
assert_eq "$(grep -c '<circle' "$WORK/map.svg")" "$(($(wc -l < "$WORK/pics/truth.csv") - 1))" "one point per image in the map"
[ -s "$WORK/k.png" ] || fail "k curves not drawn"

# Fixed k, other features, deterministic for a seed.
a=$("$IRBIS" cluster "$WORK/c.irbis" -k 5 --features color --format csv --seed 3)
b=$("$IRBIS" cluster "$WORK/c.irbis" -k 5 --features color --format csv --seed 3)
assert_eq "$a" "$b" "same seed, same clusters"

# Other features on the same (already embedded) collection: the full CNN descriptor, one cluster
# per photo, must also group each altered copy with its original.
run cluster "$WORK/c.irbis" -k "$PHOTOS" --features cnn-full --map pca --labels "$WORK/labels.csv" --json
assert_eq "$RC" 0 "cluster --features cnn-full ($ERR)"
assert_eq "$(json '(d["features"], d["k"], d["items"])')" "('cnn-full', $PHOTOS, $(($(wc -l < "$WORK/pics/truth.csv") - 1)))" "cnn-full report"
assert_eq "$(json 'd["label_scores"]["ari"] > 0.8 and d["label_scores"]["purity"] > 0.85')" True "cnn-full clusters follow the photos"

# A best k at an end of the range tried is said (5..6: whichever wins is at an edge).
run cluster "$WORK/c.irbis" --auto --k-range 5..6
assert_eq "$RC" 0 "cluster --auto --k-range 5..6 ($ERR)"
assert_contains "$ERR" "of the range tried (5-6): a wider one (--k-range) may find a better k" "best k at the edge"

# Bad input: each refusal says why.
run cluster "$WORK/c.irbis" -k 100000
assert_eq "$RC" 1 "k larger than the collection"
assert_contains "$ERR" "k = 100000 is larger than the number of items" "k > n message"
run cluster "$WORK/c.irbis" --auto --k-range 3..3
assert_eq "$RC" 1 "range with one value"
assert_contains "$ERR" "has fewer than two values" "one-value range message"
run cluster "$WORK/c.irbis" --auto --k-range 2-9
assert_eq "$RC" 1 "malformed range"
assert_contains "$ERR" "--k-range must look like 2..30" "malformed range message"
run cluster "$WORK/c.irbis" -k 3 --plot-k "$WORK/k1.svg"
assert_eq "$RC" 1 "--plot-k without --auto"
assert_contains "$ERR" "--plot-k draws silhouette and inertia against k and needs --auto" "--plot-k message"
[ ! -e "$WORK/k1.svg" ] || fail "--plot-k without --auto drew a curve"
run cluster "$WORK/c.irbis" -k 3 --map none --plot "$WORK/none.svg"
assert_eq "$RC" 1 "--plot with --map none"
assert_contains "$ERR" "--plot draws the 2-D map; it needs --map tsne or pca" "--plot --map none message"
"$IRBIS" index "$WORK/pics/photos/apple.jpg" --into "$WORK/one.irbis" --features hashes > /dev/null
run cluster "$WORK/one.irbis" -k 2
assert_eq "$RC" 1 "collection without embeddings"
assert_contains "$ERR" "no embeddings for model" "message names what is missing"
assert_contains "$ERR" "irbis index FOLDER --into $WORK/one.irbis" "message names the command to run"
run cluster "$WORK/one.irbis" -k 2 --features hash
assert_eq "$RC" 1 "single image, k = 2"
assert_contains "$ERR" "k = 2 is larger than the number of items (1)" "single image k > n message"
run cluster "$WORK/one.irbis" --auto --features hash --json
assert_eq "$RC" 0 "single image"
assert_eq "$(json '(d["k"], d["clear_structure"], d["verdict"])')" "(1, False, 'no clear cluster structure')" "single image gives one cluster, no structure claimed"

# Checks a CSV and a JSON report for NaN/inf (and nulls other than the medoid of an empty cluster).
check_finite() {  # csv json
  $PY - "$1" "$2" <<'PYEOF'
import csv, json, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows, "empty CSV"
for r in rows:
    for f in ("cluster", "x", "y", "distance_to_centroid"):
        assert math.isfinite(float(r[f])), (f, r)
def bad(c): raise ValueError("non-finite JSON constant " + c)
def walk(v, key=""):
    if isinstance(v, dict):
        for k, x in v.items():
            if x is None: assert k == "medoid" and v.get("size") == 0, f"null at {k}: {v}"
            else: walk(x, k)
    elif isinstance(v, list):
        for x in v: walk(x, key)
    elif isinstance(v, float): assert math.isfinite(v), key
walk(json.load(open(sys.argv[2]), parse_constant=bad))
PYEOF
}

# Degenerate collection: six identical images (different names) must give finite numbers everywhere.
mkdir -p "$WORK/same"
$PY - "$WORK/same" <<'PYEOF'
import shutil, sys
import numpy as np, cv2
yy, xx = np.mgrid[0:96, 0:96]
img = np.dstack([xx * 2, yy * 2, (xx + yy)]).astype(np.uint8)
cv2.imwrite(f"{sys.argv[1]}/a.png", img)
for i in range(1, 6): shutil.copy(f"{sys.argv[1]}/a.png", f"{sys.argv[1]}/copy{i}.png")
PYEOF
"$IRBIS" index "$WORK/same" --into "$WORK/same.irbis" > /dev/null
for args in "--auto --k-range 2..5" "-k 3 --map tsne" "-k 2 --features color --map pca" "--auto --features hash --low-memory"; do
  # shellcheck disable=SC2086
  run cluster "$WORK/same.irbis" $args --out "$WORK/same.csv" --json
  assert_eq "$RC" 0 "identical images, $args ($ERR)"
  echo "$OUT" > "$WORK/same.json"
  assert_eq "$(($(wc -l < "$WORK/same.csv") - 1))" 6 "identical images, $args: one CSV row per image"
  check_finite "$WORK/same.csv" "$WORK/same.json" || fail "identical images, $args: non-finite output"
  assert_eq "$(json 'd["clear_structure"]')" False "identical images, $args: no structure claimed"
done

# Colour groups in folders (hashes + colour only, no CNN): --labels folders, and the low-memory mode
# on 180 images with a training sample smaller than the collection.
$PY - "$WORK/groups" <<'PYEOF'
import os, sys
import numpy as np, cv2
rng = np.random.default_rng(5)
# BGR at the centres of the colour histogram's 4 x 4 x 4 bins, so that noise keeps each group in one bin.
base = {"red": (32, 32, 224), "green": (32, 224, 32), "blue": (224, 32, 32)}
for name, bgr in base.items():
    os.makedirs(f"{sys.argv[1]}/{name}", exist_ok=True)
    for i in range(60):
        img = np.array(bgr, float)[None, None] + rng.normal(0, 5, (48, 48, 3)) + rng.uniform(-8, 8)
        cv2.imwrite(f"{sys.argv[1]}/{name}/{i:02d}.png", np.clip(img, 0, 255).astype(np.uint8))
PYEOF
"$IRBIS" index "$WORK/groups" --into "$WORK/g.irbis" --features hashes > /dev/null
run cluster "$WORK/g.irbis" --auto --k-range 2..6 --features color --labels folders --map pca --json
assert_eq "$RC" 0 "--labels folders ($ERR)"
assert_eq "$(json '(d["k"], d["label_scores"]["ari"] > 0.99, d["label_scores"]["purity"] > 0.99)')" "(3, True, True)" "three colour folders found"
assert_eq "$(json 'd["low_memory"]')" False "small collection stays in memory"

# Low-memory groups check: every folder in one cluster, different folders in different clusters.
same_as_folders() {  # csv
  $PY - "$1" <<'PYEOF'
import csv, os, sys
by = {}
for r in csv.DictReader(open(sys.argv[1])):
    by.setdefault(os.path.basename(os.path.dirname(r["path"])), set()).add(r["cluster"])
assert len(by) == 3 and all(len(c) == 1 for c in by.values()), by
assert len(set().union(*by.values())) == 3, by
PYEOF
}
run cluster "$WORK/g.irbis" -k 3 --features color --labels folders --low-memory --low-memory-sample 20 \
    --out "$WORK/low.csv" --plot "$WORK/low.svg" --json
assert_eq "$RC" 0 "--low-memory ($ERR)"
assert_contains "$ERR" "low-memory mode for 180 images" "low-memory mode announced"
assert_eq "$(json '(d["low_memory"], d["trained_on"], d["items"], d["map"])')" "(True, 150, 180, 'pca')" "trained on 50 x k of 180 images, PCA map"
assert_eq "$(json 'd["label_scores"]["ari"] > 0.99')" True "low-memory clusters match the folders"
assert_eq "$(json '(sum(c["size"] for c in d["clusters"]), all(len(c["most_central"]) == 5 and c["medoid"] for c in d["clusters"]))')" \
    "(180, True)" "low-memory per-cluster summary"
assert_eq "$(head -1 "$WORK/low.csv")" "path,cluster,x,y,distance_to_centroid" "low-memory CSV header"
assert_eq "$(($(wc -l < "$WORK/low.csv") - 1))" 180 "low-memory CSV: one row per image"
assert_eq "$(cut -d, -f1 "$WORK/low.csv" | sort -u | wc -l)" 181 "low-memory CSV: every image once"
same_as_folders "$WORK/low.csv" || fail "low-memory CSV clusters do not match the folders"
assert_eq "$(grep -c '<circle' "$WORK/low.svg")" 150 "low-memory map plots the training sample"
# Streamed CSV on stdout is the file; a requested t-SNE is refused with the reason.
run cluster "$WORK/g.irbis" -k 3 --features color --low-memory --low-memory-sample 20 --format csv
assert_eq "$OUT" "$(cat "$WORK/low.csv")" "streamed CSV on stdout equals --out"
run cluster "$WORK/g.irbis" -k 3 --features hash --low-memory --map tsne
assert_eq "$RC" 1 "t-SNE in low-memory mode"
assert_contains "$ERR" "t-SNE needs every image in memory and cannot be streamed" "t-SNE refusal says why"
echo "PASS"
