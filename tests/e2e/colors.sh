# Dominant colours: `search --colors` ranks the images holding every query colour first (JSON and
# CSV the same order), `export --colors` / `--view colors` write one row per image, a bad colour is
# refused by name, and the report shows the palettes and an issues section with thumbnails.
source "$(dirname "$0")/lib/common.bash"

mkdir -p "$WORK/imgs"
$PY - "$WORK/imgs" <<'PYEOF'
import sys, cv2, numpy as np
root = sys.argv[1]
def split(left, right, share, name):  # colours as RGB
    img = np.zeros((120, 200, 3), np.uint8)
    img[:] = right[::-1]
    img[:, : int(200 * share)] = left[::-1]
    noise = np.random.default_rng(len(name)).normal(0, 3, img.shape)
    cv2.imwrite(f"{root}/{name}", np.clip(img + noise, 0, 255).astype(np.uint8))
split((31, 58, 95), (255, 255, 255), 0.5, "navy_white.png")
split((31, 58, 95), (31, 58, 95), 0.5, "all_navy.png")
split((255, 255, 255), (250, 250, 250), 0.5, "all_white.png")
split((200, 30, 30), (30, 160, 40), 0.5, "red_green.png")
split((240, 200, 20), (20, 20, 20), 0.3, "yellow_black.png")
PYEOF

run index "$WORK/imgs" --into "$WORK/c.irbis" --features hashes --json
assert_eq "$RC" 0 "index exit code ($ERR)"
run info "$WORK/c.irbis" --json
assert_eq "$(json 'sorted(f["dim"] for f in d["features"] if f["name"] in ("palette", "sharpness"))')" "[2, 20]" "sharpness and palette features declared"

run search "$WORK/c.irbis" --colors '#1f3a5f,#ffffff' --format json
assert_eq "$RC" 0 "search --colors exit code ($ERR)"
echo "$OUT" > "$WORK/colors.json"
assert_eq "$(json '[r["name"] for r in d["results"]][:1]')" "['navy_white.png']" "navy + white ranks first"
assert_eq "$(json 'd["query"]')" "['#1f3a5f', '#ffffff']" "query echoed as parsed"
assert_eq "$(json '[r["name"] for r in d["results"]][-1]')" "red_green.png" "neither colour ranks last"
run search "$WORK/c.irbis" --colors '1f3a5f,#FFFFFF' --format csv
assert_eq "$RC" 0 "search --colors csv exit code ($ERR)"
assert_eq "$(head -1 <<<"$OUT")" "rank,match,path,palette,id" "CSV header"
echo "$OUT" > "$WORK/colors_search.csv"
$PY - "$WORK/colors.json" "$WORK/colors_search.csv" <<'PYEOF' || fail "CSV and JSON agree"
import csv, json, os, sys
rows = list(csv.DictReader(open(sys.argv[2])))
j = json.load(open(sys.argv[1]))
assert [os.path.basename(r["path"]) for r in rows] == [r["name"] for r in j["results"]]
top = j["results"][0]
labs = [c["lab"] for c in top["palette"]]
assert any(L > 95 for L, a, b in labs) and any(20 < L < 28 and b < -20 for L, a, b in labs), top["palette"]
assert abs(sum(c["weight"] for c in top["palette"]) - 1) < 1e-4
PYEOF

run search "$WORK/c.irbis" --colors 'navy'
assert_eq "$RC" 1 "a bad colour is a usage error"
assert_contains "$ERR" "'navy' is not a colour" "names the bad colour"
run search "$WORK/c.irbis" --colors '#1f3a5f' --id 1
assert_eq "$RC" 1 "--colors with another query is refused"

run export "$WORK/c.irbis" --colors "$WORK/colors.csv" --view colors --embeddings "$WORK/colors.npy"
assert_eq "$RC" 0 "export colours exit code ($ERR)"
$PY - "$WORK/colors.csv" "$WORK/colors.npy" <<'PYEOF' || fail "export --colors"
import csv, sys, numpy as np
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 5 and rows[0]["color1"].startswith("#") and "hist63" in rows[0], rows[0].keys()
m = np.load(sys.argv[2])
assert m.shape == (5, 84), m.shape
assert abs(m[:, 3:20:4].sum(axis=1) - 1).max() < 1e-4  # the weights
assert abs(m[:, 20:].sum(axis=1) - 1).max() < 1e-4     # the histogram
for r, row in zip(rows, m):
    assert abs(float(r["L1"]) - row[0]) < 0.01
PYEOF

# The report: palettes on the cards and an issues section with thumbnails per issue.
run report "$WORK/c.irbis" --out "$WORK/report"
assert_eq "$RC" 0 "report exit code ($ERR)"
$PY - "$WORK/report" <<'PYEOF' || fail "report issues section and palettes"
import os, re, sys
html = open(os.path.join(sys.argv[1], "index.html")).read()
sec = html[html.index('<section id="issues"'):]
sec = sec[: sec.index("</section>")]
issues = re.findall(r'data-issue="([a-z_]+)" data-images="(\d+)" data-shown="(\d+)"', sec)
assert issues, "no issue groups"
thumbs = re.findall(r'<figure class="thumb issue" data-id="(\d+)"', sec)
assert len(thumbs) == sum(int(s) for _, _, s in issues), (len(thumbs), issues)
for t in thumbs:
    assert os.path.exists(os.path.join(sys.argv[1], "thumbs", t + ".jpg")), t
assert re.search(r'<div class="pal"><span style="background:#[0-9a-f]{6};width:', sec), "no palette strip"
assert os.path.exists(os.path.join(sys.argv[1], "issues.csv"))
print("report ok:", issues)
PYEOF
