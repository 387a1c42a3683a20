# Plain `irbis dupes` (hashes only, no --cnn) on edits this test makes of real photos: a mirror,
# JPEG quality 30, a 25 % resize and a caption banner are each grouped with their original, with
# the evidence of the two-hash rule (pHash distance, mirror variant, dHash distance; the caption
# through geometric verification); a static-camera look-alike with a disagreeing dHash is not.
source "$(dirname "$0")/lib/common.bash"
CV=/usr/share/doc/opencv-doc/examples/data
[ -f "$CV/baboon.jpg" ] || fail "opencv-doc sample photos missing (setup.sh installs opencv-doc)"

mkdir -p "$WORK/pics"
$PY - "$CV" "$WORK/pics" <<'PYEOF'
import sys, cv2
cv, out = sys.argv[1], sys.argv[2]
for name in ("fruits", "baboon", "building", "messi5", "starry_night", "home"):
    img = cv2.imread(f"{cv}/{name}.jpg")
    h, w = img.shape[:2]
    cv2.imwrite(f"{out}/{name}.jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(f"{out}/{name}.mirror.jpg", cv2.flip(img, 1), [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(f"{out}/{name}.q30.jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 30])
    cv2.imwrite(f"{out}/{name}.small.png", cv2.resize(img, (w // 4, h // 4), interpolation=cv2.INTER_AREA))
    cap = img.copy()
    cv2.rectangle(cap, (0, h - h // 8), (w, h), (0, 0, 0), -1)
    cv2.putText(cap, "irbis caption", (w // 20, h - h // 32), cv2.FONT_HERSHEY_SIMPLEX, h / 400, (255, 255, 255), 2)
    cv2.imwrite(f"{out}/{name}.caption.jpg", cap, [cv2.IMWRITE_JPEG_QUALITY, 90])
PYEOF
run index "$WORK/pics" --into "$WORK/c.irbis" --features hashes --json
assert_eq "$RC" 0 "index ($ERR)"

run dupes "$WORK/c.irbis" --format csv
assert_eq "$RC" 0 "dupes ($ERR)"
assert_eq "$(head -1 <<<"$OUT")" "group,path,role,distance,kind,width,height,size,variant_distance,variant,dhash_distance,inliers,id" "CSV header"
echo "$OUT" > "$WORK/dupes.csv"
$PY - "$WORK/dupes.csv" <<'PYEOF' || fail "plain dupes on the generated edits: $OUT"
import csv, os, sys
rows = {os.path.basename(r["path"]): r for r in csv.DictReader(open(sys.argv[1]))}
photos = ("fruits", "baboon", "building", "messi5", "starry_night", "home")
found = {"mirror": 0, "q30": 0, "small": 0, "caption": 0}
for p in photos:
    orig = rows.get(f"{p}.jpg")
    assert orig and orig["role"] == "keep", f"{p}.jpg is kept (most pixels): {orig}"
    for edit in found:
        f = f"{p}.{edit}.{'png' if edit == 'small' else 'jpg'}"
        r = rows.get(f)
        if not r or r["group"] != orig["group"]:
            print("missed", f, r)
            continue
        found[edit] += 1
        assert r["role"] == "duplicate", r
        if edit == "mirror":  # through the mirror pHash and the mirrored dHash
            assert r["variant"] == "mirror" and int(r["variant_distance"]) <= 4 and int(r["dhash_distance"]) <= 8, r
        if edit in ("q30", "small"):  # both hashes agree: sure, not verified
            assert r["kind"] == "near" and int(r["distance"]) <= 4 and int(r["dhash_distance"]) <= 8 and r["inliers"] == "", r
        if r["kind"] == "verified":
            assert int(r["inliers"]) >= 12 and r["dhash_distance"] != "", r
# Mirror, JPEG q30 and 25 % are found for every photo; the caption for most (pHash moves with
# the banner; the dHash agrees and verification confirms).
print(found)
assert found["mirror"] == found["q30"] == found["small"] == len(photos), found
assert found["caption"] >= len(photos) - 1, found
# No two photos share a group.
groups = {rows[f"{p}.jpg"]["group"] for p in photos}
assert len(groups) == len(photos), groups
PYEOF

# JSON carries the same evidence (dhash_distance null only where it was not compared).
run dupes "$WORK/c.irbis" --json
assert_eq "$(json 'all(m["dhash_distance"] is not None for g in d["groups"] for m in g["duplicates"] if m["kind"] != "exact")')" True "dhash_distance in JSON"
# The band limits are options: with a band of pHash 4 / dHash 0 nothing beyond the sure rule is verified.
run dupes "$WORK/c.irbis" --band-phash 4 --band-dhash 0 --json
assert_eq "$(json 'd["pairs_verified"]')" 0 "no band, nothing verified"
echo "PASS"
