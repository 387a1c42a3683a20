# `irbis issues`: images made with a known problem are flagged with it, CSV and JSON agree, and a
# collection without the quality feature gets a clear error.
source "$(dirname "$0")/lib/common.bash"

mkdir -p "$WORK/imgs"
$PY - "$WORK/imgs" <<'PYEOF'
import sys, cv2, numpy as np
root = sys.argv[1]
rng = np.random.default_rng(7)
def photo(seed):
    r = np.random.default_rng(seed)
    img = np.zeros((240, 320, 3), np.uint8)
    img[:] = r.integers(40, 200, 3)
    for _ in range(25):
        c = tuple(int(v) for v in r.integers(0, 256, 3))
        x, y = int(r.integers(0, 300)), int(r.integers(0, 220))
        cv2.rectangle(img, (x, y), (x + int(r.integers(10, 80)), y + int(r.integers(10, 80))), c, -1)
        cv2.circle(img, (int(r.integers(0, 320)), int(r.integers(0, 240))), int(r.integers(5, 40)), c, 2)
    return img
for i in range(16):
    cv2.imwrite(f"{root}/clean_{i:02d}.png", photo(i))
cv2.imwrite(f"{root}/blurry.png", cv2.GaussianBlur(photo(100), (0, 0), 4))
cv2.imwrite(f"{root}/dark.png", (photo(101) * 0.1).astype(np.uint8))
cv2.imwrite(f"{root}/bright.png", (255 - (255 - photo(102).astype(float)) * 0.1).astype(np.uint8))
cv2.imwrite(f"{root}/grey.png", cv2.cvtColor(photo(103), cv2.COLOR_BGR2GRAY))
flat = np.full((240, 320, 3), 128, np.uint8); cv2.imwrite(f"{root}/flat.png", flat)
cv2.imwrite(f"{root}/tiny.png", cv2.resize(photo(104), (16, 12), interpolation=cv2.INTER_AREA))
cv2.imwrite(f"{root}/banner.png", cv2.resize(photo(105), (960, 120), interpolation=cv2.INTER_AREA))
cv2.imwrite(f"{root}/copy.png", photo(3))
# JPEG quality factor from the quantisation tables: a q15 JPEG is flagged, a q90 one is not.
cv2.imwrite(f"{root}/lowq.jpg", photo(106), [cv2.IMWRITE_JPEG_QUALITY, 15])
cv2.imwrite(f"{root}/clean_q90.jpg", photo(107), [cv2.IMWRITE_JPEG_QUALITY, 90])
PYEOF

run index "$WORK/imgs" --into "$WORK/c.irbis" --features hashes --json
assert_eq "$RC" 0 "index exit code ($ERR)"
run info "$WORK/c.irbis" --json
assert_eq "$(json '[f["dim"] for f in d["features"] if f["name"] == "quality"]')" "[13]" "quality feature declared"

run issues "$WORK/c.irbis" --format csv
assert_eq "$RC" 0 "issues exit code ($ERR)"
assert_eq "$(head -1 <<<"$OUT")" "path,issue,score,threshold,reason,id" "CSV header"
echo "$OUT" > "$WORK/issues.csv"
run issues "$WORK/c.irbis" --format json
assert_eq "$RC" 0 "issues json exit code ($ERR)"
echo "$OUT" > "$WORK/issues.json"

$PY - "$WORK/issues.csv" "$WORK/issues.json" <<'PYEOF'
import csv, json, os, sys
rows = list(csv.DictReader(open(sys.argv[1])))
j = json.load(open(sys.argv[2]))
got = {(os.path.basename(r["path"]), r["issue"]) for r in rows}
want = {("blurry.png", "blurry"), ("dark.png", "dark"), ("bright.png", "bright"), ("grey.png", "grayscale"),
        ("flat.png", "low_information"), ("tiny.png", "tiny"), ("banner.png", "odd_aspect"),
        ("copy.png", "exact_duplicate"), ("lowq.jpg", "low_jpeg_quality")}
missing = want - got
assert not missing, f"not flagged: {missing}"
clean_flags = sorted(g for g in got if g[0].startswith("clean_") and g[1] not in ("odd_one_out", "exact_duplicate"))
assert not clean_flags, f"clean images flagged: {clean_flags}"
# CSV and JSON are the same rows in the same order.
assert j["total"] == len(rows) == len(j["issues"]), (j["total"], len(rows))
assert [(r["issue"], r["reason"]) for r in rows] == [(i["issue"], i["reason"]) for i in j["issues"]]
summary = {s["issue"]: s["images"] for s in j["summary"]}
assert summary["dark"] == sum(1 for r in rows if r["issue"] == "dark")
assert len(j["summary"]) == 11 and j["embeddings"] is False
lowq = [i for i in j["issues"] if i["issue"] == "low_jpeg_quality"]
assert [os.path.basename(i["path"]) for i in lowq] == ["lowq.jpg"], lowq
assert abs(lowq[0]["score"] - 15) <= 2 and "quality ~15" in lowq[0]["reason"], lowq[0]
odd = [os.path.basename(i["path"]) for i in j["issues"] if i["issue"] == "odd_one_out"]
assert odd and odd[0] in ("tiny.png", "banner.png", "grey.png"), odd
print("issues ok:", len(rows), "rows; odd ones out", odd)
PYEOF

run issues "$WORK/c.irbis"
assert_eq "$RC" 0 "issues table exit code"
assert_contains "$OUT" "low_information" "table summary"

# /api/issues is the CLI's JSON plus paging and links (thumb, file) on each image.
"$IRBIS" serve "$WORK/c.irbis" --port 0 > "$WORK/serve.out" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do grep -q http "$WORK/serve.out" && break; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out") || fail "serve did not start: $(cat "$WORK/serve.out")"
$PY - "$URL" "$WORK/issues.json" <<'PYEOF' || fail "API equals CLI JSON"
import json, sys, urllib.request
api = json.load(urllib.request.urlopen(sys.argv[1] + "/api/issues?limit=100000"))
cli = json.load(open(sys.argv[2]))
for k in ("images", "embeddings", "summary", "total", "collection"):
    assert api[k] == cli[k], (k, api[k], cli[k])
strip = lambda items: [{k: v for k, v in i.items() if k not in ("thumb", "file")} for i in items]
assert strip(api["issues"]) == cli["issues"]
print("api == cli:", api["total"], "rows")
PYEOF
kill $PID 2>/dev/null || true

# Python's Collection.issues() (when the module is built): the CLI's rows and summary.
PYMOD="$(dirname "$IRBIS")/python"
if [ -f "$PYMOD/irbis/__init__.py" ]; then
  PYTHONPATH="$PYMOD" $PY - "$WORK/c.irbis" "$WORK/issues.json" <<'PYEOF' || fail "Python issues"
import json, sys, irbis
table, summary = irbis.Collection.open(sys.argv[1]).issues()
cli = json.load(open(sys.argv[2]))
reasons = list(table["reason"]) if hasattr(table, "columns") else table["reason"]
assert reasons == [i["reason"] for i in cli["issues"]] and summary == cli["summary"]
print("python == cli:", len(reasons), "rows")
PYEOF
fi

# A collection without the quality feature: clear error naming the command to run.
run index "$WORK/imgs" --into "$WORK/none.irbis" --features none
run issues "$WORK/none.irbis"
assert_eq "$RC" 1 "issues without quality exit code"
assert_contains "$ERR" "no quality feature" "error message"
echo "issues.sh ok"
