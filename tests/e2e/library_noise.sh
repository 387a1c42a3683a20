# No library writes to our stderr: a PNG with a broken colour profile (iCCP) and an sRGB chunk
# out of place made libpng print "libpng warning: ..." through `index` and `report`, breaking
# the progress bar. The image still decodes to the same pixels.
source "$(dirname "$0")/lib/common.bash"

mkdir -p "$WORK/pics"
$PY - "$WORK/pics" <<'PYEOF'
import struct, sys, zlib
import numpy as np, cv2
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
for i in range(3):
    w, h = 96 + 16 * i, 64
    raw = b"".join(b"\x00" + bytes(((x * (4 + i) + y * 3) % 256, (x + y) % 256, (y * 5) % 256)[c] for x in range(w) for c in range(3)) for y in range(h))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"iCCP", b"bad\x00\x00" + zlib.compress(b"\x00\x00\x00\x10garbage profile!"))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"sRGB", b"\x00") + chunk(b"IEND", b"")
    open(f"{sys.argv[1]}/bad{i}.png", "wb").write(png)
# The control: OpenCV itself (same libpng) does warn on these files.
import subprocess
r = subprocess.run([sys.executable, "-c", f"import cv2; cv2.imread('{sys.argv[1]}/bad0.png')"], capture_output=True, text=True)
assert "libpng warning" in r.stderr, "the test image no longer triggers libpng warnings: " + r.stderr
PYEOF

run index "$WORK/pics" --into "$WORK/c.irbis"
assert_eq "$RC" 0 "index ($ERR)"
assert_eq "$ERR" "" "index stderr"
run report "$WORK/c.irbis" --out "$WORK/r"
assert_eq "$RC" 0 "report ($ERR)"
assert_eq "$ERR" "" "report stderr"
run info "$WORK/c.irbis" --json
assert_eq "$(json '(d["images"], d["failed"])')" "(3, 0)" "all three decoded"
echo PASS
