# Dominant colours: `search --colors` ranks the images holding every query colour first (JSON and
# CSV the same order), `export --colors` / `--view colors` write one row per image, a bad colour is
# refused by name, and the report shows the palettes and an issues section with thumbnails.
# `serve` answers the same colour search at /api/search?colors=... (the CLI's JSON, with links),
# from the palettes it loaded once (later queries answer the same with the palette file cut),
# refuses a bad colour with a 400 naming it, and its search page has the colour box.
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

# serve: /api/search?colors= is `search --colors --format json` (same serializer), plus links.
"$IRBIS" serve "$WORK/c.irbis" --port 0 > "$WORK/serve.out" 2>&1 &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do grep -q http "$WORK/serve.out" && break; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out") || fail "serve did not start: $(cat "$WORK/serve.out")"
$PY - "$URL" "$WORK/colors.json" "$WORK/c.irbis/features/palette.f" <<'PYEOF' || fail "serve colour search"
import json, os, sys, urllib.error, urllib.parse, urllib.request
url, cli, palette_file = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
def get(path):
    try:
        with urllib.request.urlopen(url + path, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()
st, ct, body = get("/api/search?k=10&colors=" + urllib.parse.quote("#1f3a5f,#ffffff"))
assert st == 200 and ct.startswith("application/json"), (st, ct, body[:200])
api, first = json.loads(body), body
assert api["query"] == cli["query"], api["query"]
for a, c in zip(api["results"], cli["results"]):
    assert a["thumb"] == f"/thumbs/{a['id']}.jpg" and a["file"] == f"/images/{a['id']}", a
    for key in ("thumb", "file"):
        a.pop(key)
    assert a == c, (a, c)
assert len(api["results"]) == len(cli["results"]) == 5
# The palettes stay loaded: with the file cut (any re-read would fail), the same answers.
saved = open(palette_file, "rb").read()
os.truncate(palette_file, 0)
try:
    st, _, body = get("/api/search?k=10&colors=" + urllib.parse.quote("#1f3a5f,#ffffff"))
    assert st == 200 and json.loads(body) == json.loads(first), (st, body[:300])
    st, _, body = get("/api/search?k=2&colors=" + urllib.parse.quote("1f3a5f,#FFFFFF"))
    assert st == 200 and [r["name"] for r in json.loads(body)["results"]] == ["navy_white.png", cli["results"][1]["name"]], body[:300]
finally:
    open(palette_file, "wb").write(saved)
st, ct, body = get("/api/search?colors=" + urllib.parse.quote("#1f3a5f,navy"))
assert st == 400 and ct.startswith("application/json"), (st, ct)
assert "'navy' is not a colour" in json.loads(body)["error"], body
st, _, body = get("/api/search?id=1&colors=" + urllib.parse.quote("#ffffff"))
assert st == 400 and "not both" in json.loads(body)["error"], body
st, _, body = get("/search?colors=" + urllib.parse.quote('#ffffff"><script>'))
html = body.decode()
assert st == 200 and 'id="color-form"' in html and 'id="colors"' in html, html[:500]
assert '<script>"' not in html and "&quot;&gt;&lt;script&gt;" in html, "the box's value is escaped"
assert "/api/search?k=24&colors=" in html, "the page's script asks the API"
print("serve colour search ok:", [r["name"] for r in api["results"]])
PYEOF
kill $SERVE_PID; wait $SERVE_PID 2>/dev/null || true

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
