# Start-up: the irbis binary does not link OpenCV's image codecs or ximgproc (about 140 libraries,
# most of every command's start-up; src/io/opencv_codecs.cpp loads them on first use), nor libheif,
# libavif and libjxl with their HEVC/AV1 codecs (io/lazy_library.h), and the formats they decode
# still work through the loaded libraries.
source "$(dirname "$0")/lib/common.bash"

LIBS=$(ldd "$IRBIS")
grep -q "libopencv_core" <<<"$LIBS" || fail "ldd sees no OpenCV at all: $LIBS"
LAZY='libopencv_(imgcodecs|ximgproc)|libgdal|libheif|libavif|libjxl|libde265|libx265|libdav1d|libaom'
if grep -qE "$LAZY" <<<"$LIBS"; then
  fail "irbis links what it should load on first use: $(grep -E "$LAZY" <<<"$LIBS")"
fi
run --version
assert_eq "$RC" 0 "--version"

# A PNG (decoded by OpenCV's codecs, loaded now) and a JPEG (TurboJPEG) index and match.
mkdir -p "$WORK/pics"
cp /usr/share/doc/opencv-doc/examples/data/baboon.jpg "$WORK/pics/"
$PY -c "import cv2, sys; cv2.imwrite(sys.argv[2], cv2.imread(sys.argv[1]))" \
  /usr/share/doc/opencv-doc/examples/data/baboon.jpg "$WORK/pics/baboon.png"
# HEIF, AVIF and JPEG XL (libheif, libavif, libjxl, loaded now).
heif-enc -q 80 -o "$WORK/pics/baboon.heic" "$WORK/pics/baboon.png" > /dev/null 2>&1
avifenc -s 8 -j 1 "$WORK/pics/baboon.png" "$WORK/pics/baboon.avif" > /dev/null 2>&1
cjxl "$WORK/pics/baboon.png" "$WORK/pics/baboon.jxl" > /dev/null 2>&1
run index "$WORK/pics" --into "$WORK/c.irbis" --json
assert_eq "$RC" 0 "index a PNG, a JPEG, a HEIC, an AVIF and a JPEG XL ($ERR)"
assert_contains "$OUT" '"ok": 5' "all five decoded"
echo "startup: ok"
