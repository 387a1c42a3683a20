# Kill -9 in the middle of a commit (deterministic fault switch), re-run, and check the result is
# exactly what an uninterrupted run gives: no row lost, none duplicated.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
N=$(($(wc -l < "$WORK/pics/truth.csv") - 1))

run index "$WORK/pics" --into "$WORK/clean.irbis" --features hashes
assert_eq "$RC" 0 "clean run"

set +e
IRBIS_FAULT_ABORT_AT_ROWS=20 "$IRBIS" index "$WORK/pics" --into "$WORK/crash.irbis" --features hashes > /dev/null 2>&1
rc=$?
set -e
[ "$rc" -ge 128 ] || fail "the fault switch should have killed the process (exit $rc)"
run info "$WORK/crash.irbis" --json
partial=$(json 'd["images"]')
[ "$partial" -lt 20 ] || fail "rows past the crash point must not be committed ($partial)"
size=$(stat -c %s "$WORK/crash.irbis/features/hashes.f")
[ "$size" -gt $((partial * 24)) ] || fail "the crash should have left uncommitted bytes ($size)"

run index "$WORK/pics" --into "$WORK/crash.irbis" --features hashes --json
assert_eq "$RC" 0 "resumed run ($ERR)"
assert_eq "$(json 'd["unchanged"]')" "$partial" "committed images are not redone"
assert_eq "$(json 'd["added"]')" "$((N - partial))" "the rest is done"
run info "$WORK/crash.irbis" --json
assert_eq "$(json 'd["images"]')" "$N" "every image once"
assert_eq "$(stat -c %s "$WORK/crash.irbis/features/hashes.f")" "$((N * 24))" "no stray rows"

# Same duplicate groups as the uninterrupted run.
a=$("$IRBIS" dupes "$WORK/clean.irbis" --format csv)
b=$("$IRBIS" dupes "$WORK/crash.irbis" --format csv)
assert_eq "$a" "$b" "dupes after resume"
echo "PASS"
