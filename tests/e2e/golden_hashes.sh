# Golden pHash, dHash and aHash of real photos (opencv-doc and scikit-image, Debian packages),
# computed at test time by an independent numpy/scipy reference of docs/features.md
# (lib/hash_reference.py): any change to the hashes, such as bilinear instead of area resizing, or
# to the decode `index` hashes (kHashMinSide, checked on four large JPEGs), fails here and must be a
# deliberate decision (docs/features.md, then this reference).
source "$(dirname "$0")/lib/common.bash"

DATA=/usr/share/doc/opencv-doc/examples/data
SK=/usr/lib/python3/dist-packages/skimage/data
photos=()
for f in $DATA/{baboon,fruits,home,building,messi5,aero1,orange,butterfly,HappyFish,board,apple,left01,graf1}.{jpg,png} \
  $SK/{astronaut,coffee,chelsea,rocket,motorcamera}.png; do
  [ -f "$f" ] && photos+=("$f")
done
[ "${#photos[@]}" -ge 14 ] || fail "too few photos found (${#photos[@]}): opencv-doc and python3-skimage are needed"

$PY "$(dirname "$0")/lib/hash_reference.py" make "$WORK/small" "${photos[@]}"
"$IRBIS" index "$WORK/small" --into "$WORK/c.irbis" --features hashes > /dev/null
run info "$WORK/c.irbis" --json
# Every photo as a small PPM, and four of them as large JPEGs (the decode rule).
assert_eq "$(json '(d["images"], d["failed"])')" "($(( ${#photos[@]} + 4 )), 0)" "every photo indexed"
"$IRBIS" export "$WORK/c.irbis" --hashes "$WORK/hashes.csv"
$PY "$(dirname "$0")/lib/hash_reference.py" check "$WORK/small" "$WORK/hashes.csv"
echo "PASS"
