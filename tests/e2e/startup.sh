# Start-up: the irbis binary does not link OpenCV's image codecs or ximgproc (about 140 libraries,
# most of every command's start-up; src/io/opencv_codecs.cpp loads them on first use), and the
# formats they decode still work through the loaded library.
source "$(dirname "$0")/lib/common.bash"

LIBS=$(ldd "$IRBIS")
grep -q "libopencv_core" <<<"$LIBS" || fail "ldd sees no OpenCV at all: $LIBS"
if grep -qE "libopencv_(imgcodecs|ximgproc)|libgdal" <<<"$LIBS"; then
  fail "irbis links what it should load on first use: $(grep -E 'imgcodecs|ximgproc|gdal' <<<"$LIBS")"
fi
run --version
assert_eq "$RC" 0 "--version"

# A PNG (decoded by OpenCV's codecs, loaded now) and a JPEG (TurboJPEG) index and match.
mkdir -p "$WORK/pics"
cp /usr/share/doc/opencv-doc/examples/data/baboon.jpg "$WORK/pics/"
$PY -c "import cv2, sys; cv2.imwrite(sys.argv[2], cv2.imread(sys.argv[1]))" \
  /usr/share/doc/opencv-doc/examples/data/baboon.jpg "$WORK/pics/baboon.png"
run index "$WORK/pics" --into "$WORK/c.irbis" --json
assert_eq "$RC" 0 "index a PNG and a JPEG ($ERR)"
assert_contains "$OUT" '"ok": 2' "both decoded"
echo "startup: ok"
