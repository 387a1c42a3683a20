# `irbis report`: a self-contained folder with every section, CSV tables that agree with the
# CLI, and file names escaped in the HTML.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
cp "$WORK/pics/photos/apple.jpg" "$WORK/pics/<img src=x onerror=alert(1)>.jpg"
mkdir -p "$WORK/pics/<script>alert(1)<"
cp "$WORK/pics/photos/baboon.jpg" "$WORK/pics/<script>alert(1)</script>.jpg"
printf 'not an image' > "$WORK/pics/broken.jpg"
run index "$WORK/pics" --into "$WORK/c.irbis"
assert_eq "$RC" 2 "index with one bad file ($ERR)"

run report "$WORK/c.irbis" --out "$WORK/r"
assert_eq "$RC" 0 "report ($ERR)"
assert_contains "$OUT" "$WORK/r/index.html" "prints where the report is"
for f in index.html overview.csv formats.csv sizes.csv failures.csv dupes.csv unique.csv clusters.csv silhouette.csv cluster_sizes.csv; do
  [ -s "$WORK/r/$f" ] || fail "missing $f"
done
H="$WORK/r/index.html"
for s in overview dupes unique clusters; do grep -q "<section id=\"$s\"" "$H" || fail "section $s missing"; done

run info "$WORK/c.irbis" --json
IMAGES=$(json 'd["images"]')
grep -q "data-images=\"$IMAGES\"" "$H" || fail "overview count"
assert_eq "$(tail -n +2 "$WORK/r/failures.csv")" "$WORK/pics/broken.jpg,not an image (unknown format)" "failures.csv"
# dupes.csv is the table of `irbis dupes --format csv` (one serializer, dupes_table).
run dupes "$WORK/c.irbis" --format csv
assert_eq "$OUT" "$(cat "$WORK/r/dupes.csv")" "dupes.csv is irbis dupes --format csv"
assert_eq "$(($(wc -l < "$WORK/r/clusters.csv") - 1))" "$IMAGES" "one clusters.csv row per image"
assert_eq "$(grep -o 'class="pt"' "$H" | wc -l)" "$IMAGES" "one map point per image"
# Unique: every image ranked in unique.csv in the order and with the distances of `irbis unique`;
# the top 12 drawn beside their nearest neighbours; the boxplot's outliers are the CSV's.
grep -q '<section id="classifier"' "$H" && fail "a classifier section without --classifier"
run unique "$WORK/c.irbis" --top 0 --json
assert_eq "$RC" 0 "irbis unique ($ERR)"
echo "$OUT" > "$WORK/unique.json"
$PY - "$WORK/r/unique.csv" "$H" "$IMAGES" "$WORK/unique.json" <<'PYEOF' || fail "unique section / unique.csv"
import csv, json, re, sys
cli = json.load(open(sys.argv[4]))
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
page = open(sys.argv[2], encoding="utf-8").read()
n = int(sys.argv[3])
assert len(rows) == n == cli["images"], (len(rows), n, cli["images"])
assert [int(r["rank"]) for r in rows] == list(range(1, n + 1))
assert [int(r["id"]) for r in rows] == [r["id"] for r in cli["items"]], "same order as irbis unique"
d = [float(r["distance"]) for r in rows if r["distance"]]
assert len(d) == cli["summary"]["n"] and d == sorted(d, reverse=True), "descending distances"
for r, c in zip(rows, cli["items"]):
    if c["distance"] is None:
        assert r["distance"] == "" and r["neighbor_id"] == "", r
    else:
        assert abs(float(r["distance"]) - c["distance"]) < 1e-5 and r["neighbor_path"] == c["neighbor"]["path"], (r, c)
        assert (r["outlier"] == "high") == c["outlier"], (r, c)
sec = page[page.index('<section id="unique"'):]
sec = sec[: sec.index("</section>")]
assert f'data-ranked="{cli["summary"]["n"]}"' in sec, "ranked count"
pairs = re.findall(r'<div class="pair" data-rank="(\d+)" data-id="(\d+)" data-neighbor="(\d*)" data-distance="([^"]*)"', sec)
assert len(pairs) == min(12, n) and f'data-shown="{len(pairs)}"' in sec, len(pairs)
for (rank, pid, nb, dist), r in zip(pairs, rows):
    assert (rank, pid, nb, dist) == (r["rank"], r["id"], r["neighbor_id"], r["distance"]), (rank, pid, r)
    assert f'figure class="thumb nb" data-id="{nb}"' in sec, ("neighbour thumbnail", nb)
outliers = sum(1 for r in rows if r["outlier"])
s = cli["summary"]
assert outliers == s["high_outliers"] + s["low_outliers"], (outliers, s)
assert 'class="chart boxplot"' in sec and f'data-outliers="{outliers}"' in sec, "boxplot"
assert sec.count('class="outlier"') == outliers
PYEOF
# Every thumbnail the page shows is in the folder (self-contained), and nothing is fetched from
# the network.
$PY - "$H" <<'PYEOF' || fail "report references missing or remote files"
import os, re, sys
h = open(sys.argv[1], encoding="utf-8").read()
refs = set(re.findall(r'(?:src|href)="([^"#]+)"', h))
remote = [r for r in refs if re.match(r"^[a-z]+:", r) and not r.startswith("data:")]
missing = [r for r in refs if r not in remote and not os.path.exists(os.path.join(os.path.dirname(sys.argv[1]), r))]
assert not remote and not missing, (remote, missing[:5])
PYEOF
grep -q '<script' "$H" && fail "the static report has a script (or an unescaped name)"
grep -q '<img src=x' "$H" && fail "unescaped file name"
grep -qF '&lt;img src=x onerror=alert(1)&gt;.jpg' "$H" || fail "escaped file name not shown"
grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;.jpg' "$H" || fail "escaped path not shown"
# Thumbnails: cached in the collection, long side 256.
[ -d "$WORK/c.irbis/thumbs" ] || fail "thumbnail cache"
$PY -c "
from PIL import Image; import glob
for f in glob.glob('$WORK/c.irbis/thumbs/*.jpg'):
    w, h = Image.open(f).size; assert max(w, h) <= 256, (f, w, h)
" || fail "thumbnail sizes"

# --classifier: the training report stored in the .clf (a tiny classifier: photos/ vs edits/),
# the same numbers `irbis train` printed; unreadable files stop the report with a clear message.
$PY -c "
import csv, sys
print('path,label')
for r in csv.DictReader(open(sys.argv[1] + '/truth.csv')): print(sys.argv[1] + '/' + r['path'] + ',' + r['path'].split('/')[0])
" "$WORK/pics" > "$WORK/labels.csv"
run train "$WORK/c.irbis" --labels "$WORK/labels.csv" --out "$WORK/m.clf" --seed 1 --json
assert_eq "$RC" 0 "train ($ERR)"
echo "$OUT" > "$WORK/train.json"
run report "$WORK/c.irbis" --out "$WORK/rc" --classifier "$WORK/m.clf"
assert_eq "$RC" 0 "report --classifier ($ERR)"
for f in classifier.csv classifier_scores.csv classifier_confusion.csv unique.csv; do [ -s "$WORK/rc/$f" ] || fail "missing $f"; done
$PY - "$WORK/train.json" "$WORK/rc" <<'PYEOF' || fail "classifier section"
import csv, json, re, sys
t = json.load(open(sys.argv[1]))
out = sys.argv[2]
page = open(out + "/index.html", encoding="utf-8").read()
sec = page[page.index('<section id="classifier"'):]
sec = sec[: sec.index("</section>")]
K = len(t["classes"])
assert f'data-classes="{K}"' in sec
for split in ("train", "test"):
    e = t[split]
    assert f'data-{split}-accuracy="{e["accuracy"]:.4f}"' in sec, split
    # The inline confusion matrix (SVG drawn by irbis) has the stored counts, cell by cell.
    m = sec[sec.index(f'<div class="confusion-matrix" data-split="{split}"'):]
    m = m[: m.index("</svg>")]
    cells = {(int(r), int(c)): int(n) for r, c, n in re.findall(r'data-row="(\d+)" data-col="(\d+)" data-count="(\d+)"', m)}
    assert cells == {(r, c): e["confusion"][r][c] for r in range(K) for c in range(K)}, (split, cells)
    scores = [r for r in csv.DictReader(open(out + "/classifier_scores.csv")) if r["split"] == split]
    assert [r["class"] for r in scores] == t["classes"]
    for r, p in zip(scores, e["per_class"]):
        for k in ("precision", "recall", "f1"):
            assert abs(float(r[k]) - p[k]) < 1e-4, (split, k, r, p)
        assert int(r["support"]) == p["support"]
    conf = [r for r in csv.DictReader(open(out + "/classifier_confusion.csv")) if r["split"] == split]
    assert [[int(r["predicted_" + c]) for c in t["classes"]] for r in conf] == e["confusion"], split
    tab = sec[sec.index(f'<div class="class-scores" data-split="{split}"'):]
    assert len(re.findall(r"<tr>", tab[: tab.index("</table>")])) == K + 1, "one row per class"
summary = dict((r["metric"], r["value"]) for r in csv.DictReader(open(out + "/classifier.csv")))
assert int(summary["train_images"]) == t["train_images"] and int(summary["test_images"]) == t["test_images"], summary
assert abs(float(summary["test_accuracy"]) - t["test"]["accuracy"]) < 1e-4, summary
PYEOF
printf 'not a classifier' > "$WORK/bad.clf"
run report "$WORK/c.irbis" --out "$WORK/rb" --classifier "$WORK/bad.clf"
assert_eq "$RC" 3 "report with a file that is not a classifier"
assert_contains "$ERR" "$WORK/bad.clf: not an irbis classifier file" "says what is wrong"
$PY -c "import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[len(b) // 2] ^= 0xff; open(sys.argv[2], 'wb').write(b)" \
  "$WORK/m.clf" "$WORK/corrupt.clf"
run report "$WORK/c.irbis" --out "$WORK/rb" --classifier "$WORK/corrupt.clf"
assert_eq "$RC" 3 "report with a corrupted classifier"
assert_contains "$ERR" "corrupt.clf: classifier file is corrupted" "names the corrupted file"
$PY -c "import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[8] = 99; open(sys.argv[2], 'wb').write(b)" \
  "$WORK/m.clf" "$WORK/v99.clf"
run report "$WORK/c.irbis" --out "$WORK/rb" --classifier "$WORK/v99.clf"
assert_eq "$RC" 3 "report with a classifier of another format version"
assert_contains "$ERR" "format version 99" "names the version"
[ -e "$WORK/rb/index.html" ] && fail "a report was written despite the bad classifier"

# Re-running refuses without --force, then overwrites in place; a collection without embeddings clusters by colour.
run report "$WORK/c.irbis" --out "$WORK/r" -k 4
assert_eq "$RC" 1 "report over an existing report needs --force"
assert_contains "$ERR" "exists and is not empty" "says why ($ERR)"
assert_contains "$ERR" "--force" "says how"
run report "$WORK/c.irbis" --out "$WORK/r" -k 4 --force
assert_eq "$RC" 0 "report again"
grep -q 'data-k="4"' "$H" || fail "-k 4"
"$IRBIS" index "$WORK/pics/photos" --into "$WORK/h.irbis" --features hashes > /dev/null
run report "$WORK/h.irbis"
assert_eq "$RC" 0 "hashes-only report ($ERR)"
grep -q 'features color' "$WORK/h-report/index.html" || fail "colour clusters without embeddings"
grep -q '<section id="unique" data-ranked="0"' "$WORK/h-report/index.html" || fail "unique section without embeddings"
grep -q 'not available: .*irbis index' "$WORK/h-report/index.html" || fail "unique section says why it is unavailable"
[ -e "$WORK/h-report/unique.csv" ] && fail "unique.csv without embeddings"
run report "$WORK/nope.irbis"
assert_eq "$RC" 1 "missing collection (a usage error)"
echo "PASS"
