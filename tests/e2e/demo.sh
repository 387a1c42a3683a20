# `irbis demo` (the README's first command): sample collection -> index -> dupes -> unique ->
# clusters -> report. The report it writes has every section, with the counts the CLI reports for
# the same collection; a second run reuses the sample and indexes nothing again.
source "$(dirname "$0")/lib/common.bash"

D="$WORK/demo"
run demo --out "$D"
assert_eq "$RC" 0 "demo ($ERR)"
H="$D/report/index.html"
[ -s "$H" ] || fail "no report at $H"
assert_contains "$OUT" "open $H" "prints where the report is"
assert_contains "$OUT" "the three most unique images" "runs unique"
echo "$OUT" > "$WORK/demo.out"
C="$D/sample.irbis"

run info "$C" --json
echo "$OUT" > "$WORK/info.json"
run dupes "$C" --format json
echo "$OUT" > "$WORK/dupes.json"
run unique "$C" --top 3 --json
echo "$OUT" > "$WORK/unique.json"
$PY - "$D" "$WORK" <<'PYEOF' || fail "report counts"
import csv, json, re, sys
d, work = sys.argv[1], sys.argv[2]
page = open(d + "/report/index.html", encoding="utf-8").read()
info, dupes, uniq = (json.load(open(f"{work}/{n}.json")) for n in ("info", "dupes", "unique"))
truth = sum(1 for _ in open(d + "/sample/truth.csv")) - 1
def section(name):
    s = page[page.index(f'<section id="{name}"'):]
    return s[: s.index(">")]
assert info["images"] == truth and info["failed"] == 0, info
assert f'data-images="{info["images"]}"' in section("overview"), section("overview")
assert f'data-groups="{len(dupes["groups"])}" data-duplicates="{dupes["duplicates"]}"' in section("dupes"), section("dupes")
assert len(dupes["groups"]) > 0
assert f'data-ranked="{uniq["summary"]["n"]}"' in section("unique") and 'data-shown="12"' in section("unique"), section("unique")
k = len(list(csv.DictReader(open(d + "/report/cluster_sizes.csv"))))
assert k >= 2 and f'data-k="{k}"' in section("clusters"), section("clusters")
rows = list(csv.DictReader(open(d + "/report/unique.csv", encoding="utf-8")))
assert len(rows) == info["images"] and [int(r["id"]) for r in rows[:3]] == [r["id"] for r in uniq["items"]]
# The demo's printed top 3 are irbis unique's.
out = open(work + "/demo.out").read()
for r in uniq["items"]:
    assert r["path"] in out, r["path"]
assert re.search(rf"6\. report: {truth} images, {len(dupes['groups'])} duplicate groups", out), out[-600:]
# The original is kept over its lossless PNG re-encode (same pixels, larger file, made later), and
# the output says by which rule. (The sample's byte copy of the original keeps its time: either of
# the two identical files may be kept.)
rows = list(csv.DictReader(open(d + "/sample/truth.csv")))
byte_copy_of = {r["original"]: r["path"] for r in rows if r["transform"] == "copy"}
group_of = {m["path"].split("/sample/")[-1]: g for g in dupes["groups"] for m in [g["keep"]] + g["duplicates"]}
copies = [r for r in rows if r["transform"] == "png"]
assert copies
for r in copies:
    g = group_of[r["path"]]
    kept = g["keep"]["path"].split("/sample/")[-1]
    assert kept in (r["original"], byte_copy_of.get(r["original"])), (r, kept)
    assert g["keep_reason"] == "earliest modified of equal pixels", g["keep_reason"]
assert "kept: " in out and "earliest modified of equal pixels (" in out, out
# Seconds as people read them; a best k at the top of the range tried is said.
assert not re.search(r"in \d+\.\d{3,} s", out), out
k = int(re.search(r"5\. clusters: k = (\d+)", out).group(1))
assert ("top of the range tried" in out) == (k == min(30, truth - 1)), out
PYEOF

# A second run reuses the sample and the index.
run demo --out "$D"
assert_eq "$RC" 0 "demo again ($ERR)"
assert_contains "$OUT" "1. sample: reusing" "reuses the sample"
IMAGES=$($PY -c "import json; print(json.load(open('$WORK/info.json'))['images'])")
assert_contains "$OUT" "0 images indexed, $IMAGES unchanged" "indexes nothing again"
echo "PASS"
