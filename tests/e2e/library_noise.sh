# No library writes to our stderr: a PNG with a broken colour profile (iCCP) and an sRGB chunk
# out of place made libpng print "libpng warning: ..." through `index` and `report`, breaking
# the progress bar. The image still decodes to the same pixels. dav1d (the AV1 decoder under
# libavif and libheif) printed its errors ("Frame size 800x600 exceeds limit 10000" for an AVIF whose
# frame is over the pixel limit, "Unknown OBU type ..." for a damaged one), libjxl its internal
# failures ("./lib/jxl/image_metadata.cc:52: JXL_FAILURE: Invalid bits_per_sample: 3"), libpng its
# errors ("libpng error: IDAT: CRC error"): they now go into the file's own error
# (src/io/library_messages.h).
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

# Indexes a folder of one bad file (extra index arguments after the expected reason): it must fail
# with irbis's own error, which contains EXPECTED, and stderr must hold irbis's own lines only.
expect_quiet_failure() {
  local dir=$1 expected=$2; shift 2
  run index "$dir" --into "$dir.irbis" "$@"
  assert_eq "$RC" 2 "index of $dir ($ERR)"
  assert_eq "$(grep -v '^irbis: ' <<<"$ERR" || true)" "" "index stderr holds irbis's own lines only ($dir)"
  run info "$dir.irbis" --failures --json
  assert_contains "$(json "d['failures'][0]['reason']")" "$expected" "the error of $dir's file"
}

# AVIFs that make dav1d complain, made here: one whose container (ispe) declares 20x20 while its AV1
# frame is 800x600 (over --max-pixels 10000, so dav1d refuses the frame), one with its AV1 data
# scrambled.
mkdir -p "$WORK/avif"
$PY - "$WORK" <<'PYEOF'
import struct, sys, numpy as np, cv2
cv2.imwrite(f"{sys.argv[1]}/src.png", np.random.RandomState(1).randint(0, 255, (600, 800, 3), np.uint8))
PYEOF
avifenc -s 10 -j 1 "$WORK/src.png" "$WORK/frame.avif" > /dev/null 2>&1
$PY - "$WORK" <<'PYEOF'
import struct, sys
b = bytearray(open(f"{sys.argv[1]}/frame.avif", "rb").read())
at = b.find(b"ispe") + 8
assert struct.unpack(">II", bytes(b[at:at + 8])) == (800, 600)
liar = bytearray(b); liar[at:at + 8] = struct.pack(">II", 20, 20)
open(f"{sys.argv[1]}/avif/frame_over_limit.avif", "wb").write(liar)
at = b.find(b"mdat") + 4
for i in range(40): b[at + i] ^= 0x5A
open(f"{sys.argv[1]}/avif/scrambled.avif", "wb").write(b)
PYEOF
# The control: libavif's own tool (same libavif and dav1d) prints dav1d's messages on these files.
set +e
control=$(avifdec --size-limit 10000 "$WORK/avif/frame_over_limit.avif" "$WORK/out.png" 2>&1)
control2=$(avifdec "$WORK/avif/scrambled.avif" "$WORK/out.png" 2>&1)
set -e
assert_contains "$control" "exceeds limit 10000" "control: dav1d on the over-limit frame"
assert_contains "$control2" "OBU" "control: dav1d on the scrambled data"

# The over-limit frame under --max-pixels 10000 (its container's 20x20 passes), the scrambled one
# under the default limit: each fails with irbis's error, which says what dav1d said.
mkdir -p "$WORK/avif2"
mv "$WORK/avif/scrambled.avif" "$WORK/avif2/"
expect_quiet_failure "$WORK/avif" \
  "corrupt AVIF data: cannot decode the image: Decoding of color planes failed (dav1d: Frame size 800x600 exceeds limit 10000)" \
  --max-pixels 10000
expect_quiet_failure "$WORK/avif2" "corrupt AVIF data: cannot decode the image: Decoding of color planes failed (dav1d: "

# A JPEG XL file with one byte of its header changed (bits per sample 3): libjxl prints
# JXL_FAILURE lines; its own tool is the control.
mkdir -p "$WORK/jxl"
$PY - "$WORK" <<'PYEOF'
import sys, numpy as np, cv2
cv2.imwrite(f"{sys.argv[1]}/small.png", np.random.RandomState(2).randint(0, 255, (48, 64, 3), np.uint8))
PYEOF
cjxl "$WORK/small.png" "$WORK/small.jxl" -d 1 --quiet > /dev/null 2>&1
$PY -c "import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[4] = 0xFF; open(sys.argv[2], 'wb').write(b)" \
  "$WORK/small.jxl" "$WORK/jxl/bad_header.jxl"
set +e
control=$(djxl "$WORK/jxl/bad_header.jxl" "$WORK/out.png" 2>&1)
set -e
assert_contains "$control" "JXL_FAILURE" "control: libjxl on the changed header"
expect_quiet_failure "$WORK/jxl" "corrupt JPEG XL data: the decoder refused the data (libjxl: Invalid bits_per_sample"

# A PNG whose compressed data is scrambled: libpng's error handler printed "libpng error: IDAT: ..."
# (OpenCV itself, same libpng, is the control).
mkdir -p "$WORK/png"
$PY - "$WORK/png" <<'PYEOF'
import subprocess, sys, numpy as np, cv2
ok, buf = cv2.imencode(".png", np.random.RandomState(3).randint(0, 255, (64, 64, 3), np.uint8))
b = bytearray(buf.tobytes())
at = b.find(b"IDAT") + 4 + 10
for k in range(20): b[at + k] ^= 0xA5
open(f"{sys.argv[1]}/scrambled.png", "wb").write(b)
r = subprocess.run([sys.executable, "-c", f"import cv2; cv2.imread('{sys.argv[1]}/scrambled.png')"], capture_output=True, text=True)
assert "libpng error" in r.stderr, "the test PNG no longer makes libpng print an error: " + r.stderr
PYEOF
expect_quiet_failure "$WORK/png" "corrupt or truncated PNG data (could not be decoded: IDAT: "
echo PASS
