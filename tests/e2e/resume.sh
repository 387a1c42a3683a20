# Kill -9 in the middle of a commit (deterministic fault switches), re-run, and check the result is
# exactly what an uninterrupted run gives: no row lost, none duplicated, same feature bytes. Once
# for new images (hashes) and once for a model back-filled into an existing collection (CNN).
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
N=$(($(wc -l < "$WORK/pics/truth.csv") - 1))

run index --help
assert_contains "$OUT" "--commit-every" "index --help documents the commit interval"
run index "$WORK/pics" --into "$WORK/x.irbis" --commit-every 0
assert_eq "$RC" 1 "--commit-every 0 is a usage error"

run index "$WORK/pics" --into "$WORK/clean.irbis" --features hashes
assert_eq "$RC" 0 "clean run"

# Commits every 8 images; the one that reaches 20 rows dies after writing its feature bytes and
# before the catalog transaction, so the earlier commits are in and the dying one is not.
set +e
IRBIS_FAULT_ABORT_AT_ROWS=20 "$IRBIS" index "$WORK/pics" --into "$WORK/crash.irbis" --features hashes \
  --commit-every 8 > /dev/null 2>&1
rc=$?
set -e
[ "$rc" -ge 128 ] || fail "the fault switch should have killed the process (exit $rc)"
run info "$WORK/crash.irbis" --json
partial=$(json 'd["images"]')
[ "$partial" -gt 0 ] || fail "the commits before the crash must be kept ($partial images)"
[ "$partial" -lt 20 ] || fail "rows past the crash point must not be committed ($partial)"
assert_eq "$(json 'sorted(set(f["rows"] for f in d["features"]))')" "[$partial]" "feature rows = committed images"
assert_eq "$(json 'len(d["features"])')" 6 "hashes, color, phash_variants, quality, sharpness and palette"
size=$(stat -c %s "$WORK/crash.irbis/features/hashes.f")
[ "$size" -gt $((partial * 24)) ] || fail "the crash should have left uncommitted bytes ($size)"

run index "$WORK/pics" --into "$WORK/crash.irbis" --features hashes --commit-every 8 --json
assert_eq "$RC" 0 "resumed run ($ERR)"
assert_eq "$(json 'd["unchanged"]')" "$partial" "committed images are not redone"
assert_eq "$(json 'd["added"]')" "$((N - partial))" "the rest is done"
run info "$WORK/crash.irbis" --json
assert_eq "$(json 'd["images"]')" "$N" "every image once"
assert_eq "$(stat -c %s "$WORK/crash.irbis/features/hashes.f")" "$((N * 24))" "no stray rows"
# The scan order is fixed, so ids and therefore the feature files match byte for byte.
for f in hashes color phash_variants quality; do
  cmp "$WORK/clean.irbis/features/$f.f" "$WORK/crash.irbis/features/$f.f" || fail "$f rows differ after resume"
done
a=$("$IRBIS" export "$WORK/clean.irbis" --hashes /dev/stdout)
b=$("$IRBIS" export "$WORK/crash.irbis" --hashes /dev/stdout)
assert_eq "$a" "$b" "same paths in the same id order"
a=$("$IRBIS" dupes "$WORK/clean.irbis" --format csv)
b=$("$IRBIS" dupes "$WORK/crash.irbis" --format csv)
assert_eq "$a" "$b" "dupes after resume"

# CNN back-fill: a model added to a hashes collection of 12 images, committing every 4 rows;
# the third commit dies, so 8 rows are in. The re-run back-fills the other 4.
mkdir -p "$WORK/few"
find "$WORK/pics" -name '*.jpg' | sort | sed -n 1,12p | while read -r f; do cp "$f" "$WORK/few/"; done
"$IRBIS" index "$WORK/few" --into "$WORK/ref.irbis" > /dev/null
"$IRBIS" export "$WORK/ref.irbis" --embeddings "$WORK/ref.npy" 2> /dev/null
"$IRBIS" index "$WORK/few" --into "$WORK/bf.irbis" --features hashes > /dev/null
set +e
IRBIS_FAULT_ABORT_AT_COMMIT=3 "$IRBIS" index "$WORK/few" --into "$WORK/bf.irbis" --commit-every 4 > /dev/null 2>&1
rc=$?
set -e
[ "$rc" -ge 128 ] || fail "the commit fault switch should have killed the back-fill (exit $rc)"
run info "$WORK/bf.irbis" --json
assert_eq "$(json '{f["name"]: f["rows"] for f in d["features"]}["emb.mobilenet_v2_mid"]')" 8 "back-filled rows kept"
run index "$WORK/few" --into "$WORK/bf.irbis" --commit-every 4 --json
assert_eq "$RC" 0 "resumed back-fill ($ERR)"
assert_eq "$(json '(d["backfilled"], d["unchanged"], d["added"])')" "(4, 12, 0)" "only the missing rows"
run info "$WORK/bf.irbis" --json
assert_eq "$(json 'sorted(set(f["rows"] for f in d["features"]))')" "[12]" "every feature complete"
"$IRBIS" export "$WORK/bf.irbis" --embeddings "$WORK/bf.npy" 2> /dev/null
cmp "$WORK/ref.paths.csv" "$WORK/bf.paths.csv" || fail "exported images differ"
$PY -c "
import numpy as np; a = np.load('$WORK/ref.npy'); b = np.load('$WORK/bf.npy')
assert a.shape == b.shape == (12, a.shape[1]) and np.abs(a - b).max() < 1e-5, np.abs(a - b).max()"
echo "PASS"
