# Every kind of bad or odd input is either indexed correctly or recorded as failed with a
# reason; the run completes (exit 2), and what was indexed before stays intact.
source "$(dirname "$0")/lib/common.bash"
D="$WORK/in"
mkdir -p "$D/sub"
$PY - "$D" <<'PYEOF'
import io, os, struct, sys, zlib
import numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(1)
photo = Image.fromarray((rng.random((96, 128, 3)) * 255).astype("uint8")).resize((256, 192))
photo.save(f"{d}/good.jpg", quality=90)
photo.save(f"{d}/good.png")
open(f"{d}/empty.jpg", "wb").close()
jpg = open(f"{d}/good.jpg", "rb").read(); open(f"{d}/truncated.jpg", "wb").write(jpg[: len(jpg) // 2])
png = open(f"{d}/good.png", "rb").read(); open(f"{d}/truncated.png", "wb").write(png[: len(png) // 2])
open(f"{d}/random.jpg", "wb").write(rng.bytes(5000))
open(f"{d}/png-named.jpg", "wb").write(png)
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xFFFFFFFF)
bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)) \
     + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
open(f"{d}/bomb.png", "wb").write(bomb)
Image.new("RGB", (1, 1), (200, 10, 10)).save(f"{d}/one-pixel.png")
Image.fromarray((np.arange(64 * 48, dtype="uint16").reshape(48, 64) * 20)).save(f"{d}/sixteen-bit.png")
photo.convert("CMYK").save(f"{d}/cmyk.jpg", quality=90)
photo.convert("L").save(f"{d}/gray.jpg")
rgba = photo.convert("RGBA"); rgba.putalpha(128); rgba.save(f"{d}/alpha.png")
photo.save(f"{d}/sub/name with spaces 'and' \"quotes\".jpg")
photo.save(os.path.join(d.encode(), b"sub/caf\xe9-latin1.jpg"), format="JPEG")
open(f"{d}/notes.txt", "w").write("not an image, not named like one")
PYEOF
ln -s .. "$D/sub/loop"            # symlink loop
mkdir -p "$D/locked" && cp "$D/good.jpg" "$D/locked/secret.jpg" && chmod 000 "$D/locked"

# Index as an unprivileged user so the unreadable folder is really unreadable (CI runs as root).
chmod -R a+rwX "$WORK" 2>/dev/null || true
chmod 000 "$D/locked"
cp "$IRBIS" "$WORK/irbis-copy"  # the build tree may not be traversable by nobody
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
set +e
OUT=$("${AS_NOBODY[@]}" "$WORK/irbis-copy" index "$D" --into "$WORK/c.irbis" --features hashes --json 2>"$WORK/err")
RC=$?
set -e
assert_eq "$RC" 2 "exit code when some inputs failed ($(cat "$WORK/err"))"
assert_eq "$(json 'd["not_images"]')" 1 "notes.txt is skipped, not failed"

run info "$WORK/c.irbis" --failures --json
reason() { $PY -c "
import json,sys; d=json.load(sys.stdin)
m=[f['reason'] for f in d['failures']+d['scan_problems'] if f['path'].endswith('$1')]
print(m[0] if m else 'NOT FAILED')" <<<"$OUT"; }
for f in empty.jpg truncated.jpg truncated.png random.jpg bomb.png locked; do
  r=$(reason "$f")
  [ "$r" != "NOT FAILED" ] || fail "$f should be recorded as failed"
  echo "  $f: $r"
done
assert_contains "$(reason bomb.png)" "60000" "bomb reason names the size"
assert_contains "$(reason locked)" "ermission" "unreadable folder reason"
assert_eq "$(json 'len(d["failures"])')" 5 "failed files"
assert_eq "$(json 'd["images"]')" 10 "indexed images: good x2, png-named, 1px, 16-bit, cmyk, gray, alpha, quotes, latin1"

# Odd-but-valid inputs decode correctly.
run dupes "$WORK/c.irbis" --format csv
assert_contains "$OUT" "png-named.jpg" "PNG named .jpg is indexed and matched with its twin"
assert_contains "$OUT" $'caf\xef\xbf\xbd-latin1.jpg' "non-UTF-8 name shown with a replacement character"
assert_contains "$OUT" "name with spaces 'and' \"\"quotes\"\".jpg\"" "quotes are CSV-escaped"

# The loop was not followed forever and nothing was indexed twice.
run info "$WORK/c.irbis" --json
assert_eq "$(json 'd["images"]')" 10 "symlink loop indexed nothing twice"

# Re-running with the folder still locked loses nothing already indexed.
set +e
"${AS_NOBODY[@]}" "$WORK/irbis-copy" index "$D" --into "$WORK/c.irbis" --features hashes > /dev/null 2>&1
set -e
run info "$WORK/c.irbis" --json
assert_eq "$(json 'd["images"]')" 10 "still intact after re-run"

# A file that disappears between the scan and the read: the fault switch deletes it right
# before the worker opens it, so the race is hit every time.
V="$WORK/vanish"
mkdir -p "$V"
cp "$D/good.jpg" "$V/a.jpg"; cp "$D/good.png" "$V/b.png"; cp "$D/gray.jpg" "$V/c.jpg"
IRBIS_FAULT_VANISH_BEFORE_READ=b.png run index "$V" --into "$WORK/v.irbis" --features hashes --json
assert_eq "$RC" 2 "a vanished file makes a partial run ($ERR)"
[ ! -e "$V/b.png" ] || fail "the fault switch should have deleted b.png"
assert_eq "$(json '(d["scanned"], d["ok"], d["failed"])')" "(3, 2, 1)" "counts with a vanished file"
run info "$WORK/v.irbis" --failures --json
assert_eq "$(json '(d["images"], [f["path"].rsplit("/", 1)[1] for f in d["failures"]])')" "(2, ['b.png'])" "the vanished file is the failure"
assert_contains "$(reason b.png)" "no such file" "vanished file reason"
run dupes "$WORK/v.irbis" --format csv
assert_contains "$OUT" "a.jpg" "the rest is indexed"
# The next run finds it gone: removed, nothing left failed.
run index "$V" --into "$WORK/v.irbis" --features hashes --json
assert_eq "$RC" 0 "re-run after the file vanished ($ERR)"
assert_eq "$(json '(d["removed"], d["unchanged"])')" "(1, 2)" "vanished file marked removed"
run info "$WORK/v.irbis" --failures --json
assert_eq "$(json '(d["images"], len(d["failures"]))')" "(2, 0)" "intact after the re-run"
echo "PASS"
