# Index the sample collection (real photos + altered copies), then check duplicate groups
# against its ground truth, incremental re-runs, and the output formats.
source "$(dirname "$0")/lib/common.bash"

run sample "$WORK/pics"
assert_eq "$RC" 0 "sample exit code"
N=$(($(wc -l < "$WORK/pics/truth.csv") - 1))

run index "$WORK/pics" --into "$WORK/pics.irbis" --features hashes --json
assert_eq "$RC" 0 "index exit code ($ERR)"
assert_eq "$(json 'd["ok"]')" "$N" "images indexed"
assert_eq "$(json 'd["failed"]')" 0 "failures"

run info "$WORK/pics.irbis" --json
assert_eq "$(json 'd["images"]')" "$N" "info image count"
assert_eq "$(json 'd["formats"]["png"] > 0 and d["formats"]["jpeg"] > 0')" True "formats"

run dupes "$WORK/pics.irbis" --format csv
assert_eq "$RC" 0 "dupes exit code"
assert_eq "$(head -1 <<<"$OUT")" "group,path,role,distance,kind,width,height,size,variant_distance,variant,dhash_distance,inliers,id" "CSV header"
echo "$OUT" > "$WORK/dupes.csv"

# Exact copies and light edits are grouped with their original; no two originals share a group.
$PY - "$WORK/pics" "$WORK/dupes.csv" <<'PYEOF'
import csv, os, sys
root, dupes = sys.argv[1], sys.argv[2]
truth = list(csv.DictReader(open(os.path.join(root, "truth.csv"))))
group = {}
for r in csv.DictReader(open(dupes)):
    group[os.path.relpath(r["path"], os.path.realpath(root))] = r["group"]
missed = [t["path"] for t in truth if t["expect"] in ("exact", "near")
          and (t["path"] not in group or group.get(t["path"]) != group.get(t["original"]))]
originals = [t["path"] for t in truth if t["expect"] == "original" and t["path"] in group]
clash = len(originals) - len({group[p] for p in originals})
hits = sum(1 for t in truth if t["expect"] in ("exact", "near")) - len(missed)
print(f"hash dupes: {hits} of the exact/near copies found, missed {missed}, originals merged: {clash}")
exact_missed = [p for p in missed if p.endswith("-copy.jpg")]
# Every byte copy is found; light edits at the default threshold: recall >= 0.95 (the default
# trades a few 5 % crops for fewer chance matches, docs/calibration.md); no false merges.
if exact_missed or clash or hits < 0.95 * (hits + len(missed)):
    sys.exit(1)
# Mirrored copies are found by the mirror pHash that `index` stores, and say so.
rows = {os.path.relpath(r["path"], os.path.realpath(root)): r for r in csv.DictReader(open(dupes))}
flips = [t for t in truth if t["transform"] == "flip"]
found = [t for t in flips if group.get(t["path"]) is not None and group.get(t["path"]) == group.get(t["original"])]
print(f"mirrors: {len(found)} of {len(flips)} grouped with their original")
if len(flips) < 3 or len(found) < 0.9 * len(flips):
    sys.exit(1)
for t in found:  # the flip or its original is kept (the larger file); the other carries the evidence
    r = rows[t["path"]] if rows[t["path"]]["role"] == "duplicate" else rows[t["original"]]
    if r["variant"] != "mirror" or int(r["variant_distance"]) >= int(r["distance"]):
        sys.exit(f"mirror evidence missing: {r}")
# Every duplicate carries its evidence: a verified one its inliers, the others none.
for r in rows.values():
    if r["role"] == "duplicate" and (r["kind"] == "verified") != (r["inliers"] != ""):
        sys.exit(f"inliers do not match the kind: {r}")
PYEOF

run dupes "$WORK/pics.irbis" --single-linkage
assert_eq "$RC" 1 "--single-linkage is refused"
assert_contains "$ERR" "--single-linkage was removed" "the reason"

run dupes "$WORK/pics.irbis" --format json
assert_eq "$(json 'all(g["keep"]["path"] and g["duplicates"] for g in d["groups"])')" True "JSON groups"
run dupes "$WORK/pics.irbis"
assert_contains "$OUT" "keep" "table output"
assert_contains "$OUT" "mirror included" "table summary names the mirror"

# Re-run: nothing changes. Then change one file and delete another.
run index "$WORK/pics" --into "$WORK/pics.irbis" --json
assert_eq "$(json 'd["unchanged"]')" "$N" "unchanged on re-run"
victim=$(ls "$WORK/pics/photos" | sed -n 1p)
gone=$(ls "$WORK/pics/photos" | sed -n 2p)
$PY -c "import cv2; im=cv2.imread('$WORK/pics/photos/$victim'); cv2.imwrite('$WORK/pics/photos/$victim', 255-im)"
rm "$WORK/pics/photos/$gone"
run index "$WORK/pics" --into "$WORK/pics.irbis" --json
assert_eq "$(json '(d["changed"], d["removed"], d["unchanged"])')" "(1, 1, $((N - 2)))" "changed/removed/unchanged"
run info "$WORK/pics.irbis" --json
assert_eq "$(json '(d["images"], d["retired"], d["removed"])')" "($((N - 1)), 1, 1)" "catalog after changes"
echo "PASS"
