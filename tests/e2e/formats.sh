# HEIC, AVIF, JPEG XL and Netpbm copies (issue 19) made by Debian's encoders from real photos
# (opencv-doc): `index` decodes each, `dupes` groups each with its JPEG source, and files of
# a recognised but unsupported format (JPEG 2000) or truncated ones are listed as failed with why.
source "$(dirname "$0")/lib/common.bash"

P="$WORK/pics"
mkdir -p "$P"
DATA=/usr/share/doc/opencv-doc/examples/data
i=0
for name in fruits baboon messi5 building; do
  i=$((i + 1))
  # Real photos, each its own JPEG source, at 320 px so the encoders are quick.
  convert "$DATA/$name.jpg" -resize 320x320 -quality 95 "$P/$name.jpg"
  case $i in
    1) heif-enc -q 85 -o "$P/$name-copy.heic" "$P/$name.jpg" >/dev/null 2>&1 ;;
    2) avifenc -s 8 -j 1 "$P/$name.jpg" "$P/$name-copy.avif" >/dev/null 2>&1 ;;
    3) cjxl "$P/$name.jpg" "$P/$name-copy.jxl" >/dev/null 2>&1 ;;
    4) convert "$P/$name.jpg" "$P/$name-copy.ppm" ;;
  esac
done
# A JPEG XL decoded from pixels (not a recompressed JPEG), with a lying extension.
cjxl "$P/messi5.jpg" "$P/messi5-pixels.png" -d 1 --lossless_jpeg=0 >/dev/null 2>&1
# A recognised format irbis does not decode, and a truncated HEIC.
printf '\x00\x00\x00\x0cjP  \r\n\x87\n\x00\x00\x00\x14ftypjp2 ' > "$P/scan.jp2"
head -c 3000 "$P/fruits-copy.heic" > "$P/cut.heic"

run index "$P" --into "$WORK/c.irbis" --features hashes --json
assert_eq "$(json '(d["ok"], d["failed"], d["not_images"])')" "(9, 2, 0)" "ok/failed/not images ($ERR)"

run info "$WORK/c.irbis" --json
assert_eq "$(json 'sorted(d["formats"].items())')" \
  "[('avif', 1), ('heif', 1), ('jpeg', 4), ('jxl', 2), ('netpbm', 1)]" "formats in the catalog"

run info "$WORK/c.irbis" --failures --json
assert_eq "$(json '[f["reason"] for f in d["failures"] if f["path"].endswith("scan.jp2")]')" \
  "['unsupported format: JPEG 2000']" "JPEG 2000 listed as unsupported"
assert_contains "$(json '[f["reason"] for f in d["failures"] if f["path"].endswith("cut.heic")]')" "HEIF" \
  "truncated HEIC listed with a reason"

# Each copy in another format is grouped with its JPEG source.
run dupes "$WORK/c.irbis" --format json
assert_eq "$RC" 0 "dupes exit code"
echo "$OUT" > "$WORK/dupes.json"
$PY - "$WORK/dupes.json" <<'PYEOF'
import json, os, sys
d = json.load(open(sys.argv[1]))
groups = [{os.path.basename(g["keep"]["path"])} | {os.path.basename(x["path"]) for x in g["duplicates"]}
          for g in d["groups"]]
want = [{"fruits.jpg", "fruits-copy.heic"}, {"baboon.jpg", "baboon-copy.avif"},
        {"messi5.jpg", "messi5-copy.jxl", "messi5-pixels.png"}, {"building.jpg", "building-copy.ppm"}]
missing = [sorted(w) for w in want if not any(w <= g for g in groups)]
merged = [sorted(g) for g in groups if sum(1 for w in want if w & g) > 1]
print("groups:", [sorted(g) for g in groups])
sys.exit(1 if missing or merged else 0)
PYEOF
echo "PASS"
