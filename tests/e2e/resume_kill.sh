# SIGKILL a real `irbis index` at seeded random moments (not at a fault switch): after every kill
# the collection opens, its feature rows equal its images, every committed row is byte-equal to a
# clean run's row of the same id, and nothing committed before is lost; the last run completes
# and equals a clean run byte for byte (no stray bytes left past the committed rows either).
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
N=$(($(wc -l < "$WORK/pics/truth.csv") - 1))
now_ms() { echo $(($(date +%s%N) / 1000000)); }

"$IRBIS" index "$WORK/pics" --into "$WORK/clean.irbis" --features hashes --commit-every 4 > /dev/null
# The kill moments are drawn from a warm run's length (the first run above pays for cold caches
# and can take longer than every run after it, so kills drawn from it land after the end).
t0=$(now_ms)
"$IRBIS" index "$WORK/pics" --into "$WORK/warm.irbis" --features hashes --commit-every 4 > /dev/null
T=$(($(now_ms) - t0))
rm -rf "$WORK/warm.irbis"
echo "clean run: $T ms for $N images"
# Each feature's row size, from the catalog's dtype and dimension.
run info "$WORK/clean.irbis" --json
ROWS=$(json '"\n".join("%s %d" % (f["name"], f["dim"] * {"u64": 8, "f32": 4, "f16": 2, "u8": 1}[f["dtype"]]) for f in d["features"])')
row_bytes() { awk -v n="$1" '$1 == n {print $2; found = 1} END {if (!found) exit 1}' <<<"$ROWS" || fail "unknown feature $1"; }
FEATURES=$(cd "$WORK/clean.irbis/features" && ls | sed 's/\.f$//')
for f in $FEATURES; do
  assert_eq "$(stat -c %s "$WORK/clean.irbis/features/$f.f")" "$((N * $(row_bytes "$f")))" "row size of $f"
done

# Starts `irbis index` into $1, SIGKILLs it after $2 ms; sets RC_KILL (137 if it was killed).
index_killed_after() {
  set +e
  "$IRBIS" index "$WORK/pics" --into "$1" --features hashes --commit-every 4 > /dev/null 2>&1 &
  local pid=$!
  sleep "$(printf '%d.%03d' $(($2 / 1000)) $(($2 % 1000)))"
  kill -9 "$pid" 2> /dev/null
  { wait "$pid"; } 2> /dev/null
  RC_KILL=$?
  set -e
}
# After a kill: the collection opens, its feature rows equal its images, which are at least $2 (the
# images committed before), and every committed row is the clean run's row of that id. Sets IMAGES.
check_after_kill() {
  IMAGES=0
  [ -f "$1/catalog.sqlite" ] || return 0  # killed before the catalog existed
  run info "$1" --json
  assert_eq "$RC" 0 "the collection opens after the kill ($ERR)"
  IMAGES=$(json 'd["images"]')
  # (killed before its features were declared, a new collection has none yet)
  assert_eq "$(json 'set(f["rows"] for f in d["features"]) <= {d["images"]}')" "True" "feature rows = images"
  [ "$IMAGES" -ge "$2" ] || fail "the kill lost committed images ($2 -> $IMAGES)"
  # A feature the catalog names has its file (made durable before the catalog named it).
  local declared
  declared=$(json '" ".join(f["name"] for f in d["features"])')
  for f in $declared; do
    [ -f "$1/features/$f.f" ] || fail "the catalog names feature $f but $f.f is missing"
  done
  for f in $declared; do
    cmp -n $((IMAGES * $(row_bytes "$f"))) "$WORK/clean.irbis/features/$f.f" "$1/features/$f.f" ||
      fail "committed $f rows differ from the clean run's"
    [ "$(stat -c %s "$1/features/$f.f")" -gt $((IMAGES * $(row_bytes "$f"))) ] && STRAY=$((STRAY + 1))
  done
  # The next writer (here one with nothing to add) cuts whatever the killed one left past the
  # committed rows, so no stray bytes can ever be taken for rows.
  rm -rf "$WORK/trim.irbis"
  cp -a "$1" "$WORK/trim.irbis"
  "$IRBIS" index "$WORK/empty" --into "$WORK/trim.irbis" --features hashes > /dev/null
  for f in $FEATURES; do
    assert_eq "$(stat -c %s "$WORK/trim.irbis/features/$f.f")" "$((IMAGES * $(row_bytes "$f")))" \
      "the next writer cuts the bytes past the committed rows of $f.f"
  done
}
mkdir -p "$WORK/empty"
STRAY=0

# Each attempt: a new collection, killed once at a random moment, its resumed run killed again at
# another (drawn from the part of the run still to do), then run to the end and compared with the
# clean run. The machine's speed moves the moments, so attempts go on (up to 16) until 4 kills
# have landed in the middle of a run.
RANDOM=16  # seeded: the same kill moments every run
kills=0 mid_run=0 attempt=0
while [ "$attempt" -lt 5 ] || { [ "$mid_run" -lt 4 ] && [ "$attempt" -lt 16 ]; }; do
  attempt=$((attempt + 1))
  rm -rf "$WORK/kill.irbis"
  committed=0
  for kill in 1 2; do
    left_ms=$((T * (N - committed) / N))
    delay=$((20 + RANDOM % (left_ms * 9 / 10 + 1)))
    index_killed_after "$WORK/kill.irbis" "$delay"
    check_after_kill "$WORK/kill.irbis" "$committed"
    echo "attempt $attempt, kill at $delay ms: exit $RC_KILL, $IMAGES of $N images committed"
    [ "$RC_KILL" -eq 137 ] && kills=$((kills + 1))
    [ "$RC_KILL" -eq 137 ] && [ "$IMAGES" -lt "$N" ] && mid_run=$((mid_run + 1))
    committed=$IMAGES
  done
  run index "$WORK/pics" --into "$WORK/kill.irbis" --features hashes --commit-every 4 --json
  assert_eq "$RC" 0 "the last run completes ($ERR)"
  assert_eq "$(json 'd["unchanged"]')" "$committed" "committed images are not redone"
  assert_eq "$(json 'd["unchanged"] + d["added"]')" "$N" "every image once"
  for f in $FEATURES; do
    assert_eq "$(stat -c %s "$WORK/kill.irbis/features/$f.f")" "$((N * $(row_bytes "$f")))" "no stray bytes in $f.f"
    cmp "$WORK/clean.irbis/features/$f.f" "$WORK/kill.irbis/features/$f.f" || fail "$f rows differ from a clean run"
  done
done
[ "$mid_run" -ge 4 ] || fail "only $mid_run of $((attempt * 2)) kills landed in the middle of a run (clean run $T ms)"

a=$("$IRBIS" export "$WORK/clean.irbis" --hashes /dev/stdout)
b=$("$IRBIS" export "$WORK/kill.irbis" --hashes /dev/stdout)
assert_eq "$a" "$b" "same paths, statuses and hashes in the same id order"
a=$("$IRBIS" dupes "$WORK/clean.irbis" --format csv)
b=$("$IRBIS" dupes "$WORK/kill.irbis" --format csv)
assert_eq "$a" "$b" "dupes after the kills"
echo "PASS ($kills kills, $mid_run mid-run, $STRAY feature files left with bytes past their committed rows)"
