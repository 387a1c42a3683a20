# The HTML report and the web UI in a real browser: Debian's Chromium driven by playwright-core
# (tests/browser, installed by setup.sh). Screenshots go to build/test-out/browser/.
source "$(dirname "$0")/lib/common.bash"
SRC=${IRBIS_SOURCE_DIR:?}
BROWSER_DIR="$SRC/tests/browser"
[ -x /usr/bin/chromium ] || fail "chromium is not installed; run ./setup.sh"
[ -d "$BROWSER_DIR/node_modules/playwright-core" ] || fail "playwright-core is not installed; run ./setup.sh (npm ci in tests/browser)"
command -v node > /dev/null || fail "node is not installed"
SHOTS="${IRBIS_BINARY_DIR:-$SRC/build}/test-out/browser"
rm -rf "$SHOTS"; mkdir -p "$SHOTS"

"$IRBIS" sample "$WORK/pics" > /dev/null
# Hostile names: markup in a file name and in a path; an undecodable file (a failure).
QUERY=$(ls "$WORK/pics/photos/"*.jpg | sed -n 1p)
cp "$QUERY" "$WORK/pics/<img src=x onerror=alert(1)>.jpg"
mkdir -p "$WORK/pics/<script>alert(1)<"
cp "$(ls "$WORK/pics/photos/"*.jpg | sed -n 2p)" "$WORK/pics/<script>alert(1)</script>.jpg"
printf 'this is not an image' > "$WORK/pics/broken.jpg"
# The same file name in two folders: their duplicate cards must tell them apart.
mkdir -p "$WORK/pics/again"
cp "$QUERY" "$WORK/pics/again/"
cp "$WORK/pics/broken.jpg" "$WORK/bad-upload.jpg"

run index "$WORK/pics" --into "$WORK/c.irbis"
[ "$RC" -le 2 ] || fail "index ($ERR)"
# A classifier (photos vs edits; the folders of one hostile-named copy left out) so the report
# shows its confusion matrices.
run train "$WORK/c.irbis" --labels folders --min-per-class 2 --out "$WORK/m.clf" --seed 1
assert_eq "$RC" 0 "train ($ERR)"
run report "$WORK/c.irbis" --out "$WORK/report" --classifier "$WORK/m.clf"
assert_eq "$RC" 0 "report ($ERR)"

run info "$WORK/c.irbis" --json
IMAGES=$(json 'd["images"]'); FAILED=$(json 'd["failed"]')
run dupes "$WORK/c.irbis" --json
NGROUPS=$(json 'len(d["groups"])'); DUPES=$(json 'd["duplicates"]')
run unique "$WORK/c.irbis" --top 12 --json
RANKED=$(json 'd["summary"]["n"]'); UTOP=$(json '[r["id"] for r in d["items"]]')
K=$($PY -c "import csv; print(len(list(csv.DictReader(open('$WORK/report/cluster_sizes.csv')))))")
POINTS=$(($(wc -l < "$WORK/report/clusters.csv") - 1))
EXPECT=$($PY -c "import json,sys; print(json.dumps(dict(images=$IMAGES, failed=$FAILED, groups=$NGROUPS, duplicates=$DUPES, k=$K, points=$POINTS, unique_ranked=$RANKED, unique_top=$UTOP, xss_name=sys.argv[1])))" '<img src=x onerror=alert(1)>.jpg')
echo "browser: expecting $EXPECT"

IRBIS="$IRBIS" COLL="$WORK/c.irbis" REPORT="$WORK/report" SHOTS="$SHOTS" EXPECT="$EXPECT" QUERY="$QUERY" \
  BAD="$WORK/bad-upload.jpg" node "$BROWSER_DIR/report_serve.test.js" || fail "browser test (screenshots in $SHOTS)"
echo "PASS (screenshots in $SHOTS)"
