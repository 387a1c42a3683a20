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

# Bad input.
run cluster "$WORK/c.irbis" -k 100000
assert_eq "$RC" 1 "k larger than the collection"
run cluster "$WORK/c.irbis" --auto --k-range 3..3
assert_eq "$RC" 1 "range with one value"
"$IRBIS" index "$WORK/pics/photos/apple.jpg" --into "$WORK/one.irbis" --features hashes > /dev/null
run cluster "$WORK/one.irbis" -k 2
assert_eq "$RC" 1 "collection without embeddings"
assert_contains "$ERR" "no embeddings" "message names what is missing"
run cluster "$WORK/one.irbis" --auto --features hash --json
assert_eq "$RC" 0 "single image"
assert_eq "$(json 'd["k"]')" 1 "single image gives one cluster"
echo "PASS"
