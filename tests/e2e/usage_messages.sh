# The mistakes a newcomer makes, each with a message that says what to do and the usage exit
# code (1); nothing is created by a refused `index`.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/photos" > /dev/null
IMG=$(find "$WORK/photos" -name '*.jpg' -print -quit)
[ -n "$IMG" ] || IMG=$(find "$WORK/photos" -type f -name '*.png' -print -quit)

# --- a photo folder or an image where the collection goes ---
run dupes "$WORK/photos"
assert_eq "$RC" 1 "dupes PHOTO_FOLDER"
assert_contains "$ERR" "irbis index $WORK/photos --into $WORK/photos.irbis" "suggests a collection next to the photos"
run info "$IMG"
assert_eq "$RC" 1 "an image as the collection"
assert_contains "$ERR" "it is a file" "says it is a file"
grep -qF -- "--into $IMG" <<<"$ERR" && fail "suggests indexing into the image: $ERR"
run info "$WORK/nope.irbis"
assert_eq "$RC" 1 "missing collection"
assert_contains "$ERR" "does not exist" "missing collection message"

# --- index creates or takes over nothing by mistake ---
run index "$WORK/no-such-folder" --into "$WORK/new.irbis"
assert_eq "$RC" 1 "nonexistent source"
assert_contains "$ERR" "no-such-folder: no such file or folder" "names the missing source"
[ -e "$WORK/new.irbis" ] && fail "a collection was created for a missing source"
run index "$WORK/photos" --into "$WORK/new.irbis" --model resnet50
assert_eq "$RC" 3 "unknown model"
assert_contains "$ERR" "unknown model 'resnet50'; installed: " "lists the installed models"
grep -q "setup.sh" <<<"$ERR" && fail "advises setup.sh although models are installed: $ERR"
[ -e "$WORK/new.irbis" ] && fail "a failed --model left a collection behind"
mkdir "$WORK/mine"; echo "notes" > "$WORK/mine/notes.txt"
run index "$WORK/photos" --into "$WORK/mine"
assert_eq "$RC" 1 "--into a folder of the user's"
assert_contains "$ERR" "is not an irbis collection" "refuses to take over the folder"
[ -e "$WORK/mine/catalog.sqlite" ] && fail "the user's folder was turned into a collection"
run index "$WORK/photos" --into "$WORK/photos"
assert_eq "$RC" 1 "index photos --into photos"
assert_contains "$ERR" "the folder being indexed" "names the problem"
[ -e "$WORK/photos/catalog.sqlite" ] && fail "the photo folder was turned into a collection"
run index "$WORK/photos" --into "$WORK/photos/sub"
assert_eq "$RC" 1 "a collection inside the scanned folder"
# Inside but named .irbis is fine: the scan skips such folders.
run index "$WORK/photos" --into "$WORK/photos/c.irbis"
assert_eq "$RC" 0 "collection named .irbis inside the photos ($ERR)"
N1=$(json 'd' 2>/dev/null || true)
run index "$WORK/photos" --into "$WORK/photos/c.irbis" --json
assert_eq "$(json 'd["added"] + d["changed"]')" 0 "re-indexing does not pick up its own files"
assert_eq "$(json 'd["unchanged"] == d["scanned"] - d["not_images"]')" True "everything unchanged"

# --- one summary line: counts agree with their nouns, seconds rounded, a re-index of unchanged
# files says so instead of "0 ok, 0 failed" ---
mkdir "$WORK/one"; cp "$IMG" "$WORK/one/"
run index "$WORK/one" --into "$WORK/one.irbis"
assert_contains "$OUT" "indexed 1 file in " "singular"
grep -qE ' in [0-9]+(\.[0-9]{1,2})? s:' <<<"$OUT" || fail "seconds rounded: $OUT"
run index "$WORK/one" --into "$WORK/one.irbis"
assert_contains "$OUT" "1 unchanged" "re-index says unchanged"
grep -q "0 ok, 0 failed" <<<"$OUT" && fail "re-index reports 0 ok, 0 failed: $OUT"

# --- a collection where the classifier goes ---
run predict "$WORK/photos/c.irbis" "$IMG"
assert_eq "$RC" 1 "predict COLLECTION img"
assert_contains "$ERR" "is a folder, not a classifier file" "clear message"
assert_contains "$ERR" "--collection" "suggests --collection"
grep -q "basic_filebuf" <<<"$ERR" && fail "library noise: $ERR"
echo PASS
