# SIGKILL a real `irbis merge` at seeded random moments: after every kill the destination opens and
# is either as it was or a prefix of the merged result (every committed row byte-equal to a clean
# merge's) marked unfinished, which `index` and any other merge refuse; running the same command
# again (killed again, then to the end) gives exactly a clean merge's collection.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
# Three partitions, each indexed into its own collection (as index_distributed's workers do).
mkdir -p "$WORK/pics/edits2"
for f in "$WORK"/pics/edits/[n-z]*; do mv "$f" "$WORK/pics/edits2/"; done
P=()
for part in photos edits edits2; do
  "$IRBIS" index "$WORK/pics/$part" --into "$WORK/$part.irbis" --features hashes > /dev/null
  P+=("$WORK/$part.irbis")
done
# The destination already holds a collection of its own (a few images), as a real merge target may.
mkdir -p "$WORK/own"
cp "$WORK"/pics/photos/a*.jpg "$WORK/own/"
"$IRBIS" index "$WORK/own" --into "$WORK/base.irbis" --features hashes > /dev/null
# Every one of its photos is in a partition too, so those copies get their own rows (other paths).

marker() { $PY -c "import sqlite3,sys; r=sqlite3.connect('file:'+sys.argv[1]+'/catalog.sqlite?mode=ro',uri=True).execute(\"SELECT value FROM meta WHERE key='merge_in_progress'\").fetchone(); print(r[0] if r else '')" "$1"; }
images() { $PY -c "import sqlite3,sys; print(sqlite3.connect('file:'+sys.argv[1]+'/catalog.sqlite?mode=ro',uri=True).execute('SELECT count(*) FROM images').fetchone()[0])" "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

rm -rf "$WORK/clean.irbis" && cp -a "$WORK/base.irbis" "$WORK/clean.irbis"
t0=$(now_ms)
run merge "$WORK/clean.irbis" "${P[@]}" --commit-every 1 --json
T=$(($(now_ms) - t0))
assert_eq "$RC" 0 "clean merge ($ERR)"
BASE=$(images "$WORK/base.irbis")
TOTAL=$(json 'd["records"]')
assert_eq "$(json 'd["resumed"]')" 0 "a clean merge resumes nothing"
assert_eq "$(images "$WORK/clean.irbis")" $((BASE + TOTAL)) "merged rows"
assert_eq "$(marker "$WORK/clean.irbis")" "" "a finished merge leaves no marker"
echo "clean merge: $T ms for $TOTAL rows into $BASE"
ROW=24  # hashes: u64[3]
CLEAN_EXPORT=$("$IRBIS" export "$WORK/clean.irbis" --hashes /dev/stdout)

merge_killed_after() {
  set +e
  "$IRBIS" merge "$1" "${P[@]}" --commit-every 1 > /dev/null 2>&1 &
  local pid=$!
  sleep "$(printf '%d.%03d' $(($2 / 1000)) $(($2 % 1000)))"
  kill -9 "$pid" 2> /dev/null
  { wait "$pid"; } 2> /dev/null
  RC_KILL=$?
  set -e
}

RANDOM=17  # seeded kill moments
# The machine's speed moves the moments, so attempts go on (up to 12) until 2 kills have left a
# half-merged destination.
kills=0 mid=0 attempt=0
while [ "$attempt" -lt 4 ] || { [ "$mid" -lt 2 ] && [ "$attempt" -lt 12 ]; }; do
  attempt=$((attempt + 1))
  rm -rf "$WORK/kill.irbis" && cp -a "$WORK/base.irbis" "$WORK/kill.irbis"
  committed=$BASE
  for delay in $((20 + RANDOM % (T + 1))) $((20 + RANDOM % (T + 1))); do
    merge_killed_after "$WORK/kill.irbis" "$delay"
    [ "$RC_KILL" -eq 137 ] && kills=$((kills + 1))
    run info "$WORK/kill.irbis" --json
    assert_eq "$RC" 0 "the destination opens after the kill ($ERR)"
    n=$(images "$WORK/kill.irbis")
    [ "$n" -ge "$committed" ] || fail "the kill lost committed rows ($committed -> $n)"
    cmp -n $((n * ROW)) "$WORK/clean.irbis/features/hashes.f" "$WORK/kill.irbis/features/hashes.f" ||
      fail "committed rows differ from a clean merge's"
    got=$("$IRBIS" export "$WORK/kill.irbis" --hashes /dev/stdout)
    assert_eq "$got" "$(head -n $((n + 1)) <<<"$CLEAN_EXPORT")" "records after the kill are a prefix of a clean merge's"
    m=$(marker "$WORK/kill.irbis")
    if [ "$n" -gt "$BASE" ] && [ "$n" -lt $((BASE + TOTAL)) ]; then
      mid=$((mid + 1))
      [ -n "$m" ] || fail "a half-merged destination ($n rows) is not marked unfinished"
      run index "$WORK/own" --into "$WORK/kill.irbis" --features hashes
      assert_eq "$RC" 3 "index refuses a half-merged collection"
      assert_contains "$ERR" "run the same merge again" "index says how to finish the merge"
      run merge "$WORK/kill.irbis" "${P[0]}"
      assert_eq "$RC" 3 "another merge is refused"
      assert_contains "$ERR" "not this merge" "another merge is refused with the reason"
      assert_eq "$(images "$WORK/kill.irbis")" "$n" "the refused writers added nothing"
    fi
    echo "attempt $attempt, kill at $delay ms: exit $RC_KILL, $((n - BASE)) of $TOTAL rows merged"
    committed=$n
  done
  run merge "$WORK/kill.irbis" "${P[@]}" --commit-every 7 --json
  assert_eq "$RC" 0 "the same merge again completes ($ERR)"
  assert_eq "$(json 'd["resumed"]')" $((committed - BASE)) "rows merged before are not merged again"
  assert_eq "$(json 'd["records"]')" "$TOTAL" "every row once"
  assert_eq "$(marker "$WORK/kill.irbis")" "" "no marker after the merge finished"
  cmp "$WORK/clean.irbis/features/hashes.f" "$WORK/kill.irbis/features/hashes.f" || fail "rows differ from a clean merge"
  assert_eq "$("$IRBIS" export "$WORK/kill.irbis" --hashes /dev/stdout)" "$CLEAN_EXPORT" "same records as a clean merge"
done
[ "$mid" -ge 2 ] || fail "only $mid of $((attempt * 2)) kills left a half-merged destination (clean merge $T ms)"
# Finished: index works on it again.
run index "$WORK/own" --into "$WORK/kill.irbis" --features hashes
assert_eq "$RC" 0 "index after the finished merge ($ERR)"
echo "PASS ($kills kills, $mid left a half-merged destination)"
