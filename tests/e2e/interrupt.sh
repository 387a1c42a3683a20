# Ctrl-C during `index`: the run stops at the next image, commits what it did, says how many
# images were kept and the command that resumes, and exits 130 (128 + SIGINT). The same command
# again resumes: the kept images are unchanged, the rest is added, and the result is byte for
# byte what an uninterrupted run gives.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
N=$(($(wc -l < "$WORK/pics/truth.csv") - 1))
"$IRBIS" index "$WORK/pics" --into "$WORK/clean.irbis" --features hashes > /dev/null

# interrupted_index COMMIT OUT ERR ARGS...: runs `irbis index ARGS...` held by the fault switch
# inside commit number COMMIT until the marker file is removed, so the signal (a real SIGINT, sent
# by this shell) lands in the middle of the run on any machine; sets RC. Job control is on while
# it starts: a background job of a script otherwise starts with SIGINT ignored.
interrupted_index() {
  local commit=$1 out=$2 err=$3
  shift 3
  set -m
  IRBIS_FAULT_PAUSE_AT_COMMIT=$commit IRBIS_FAULT_PAUSE_FILE="$WORK/paused" "$IRBIS" index "$@" > "$out" 2> "$err" &
  local pid=$!
  set +m
  for _ in $(seq 600); do [ -e "$WORK/paused" ] && break; sleep 0.1; done
  [ -e "$WORK/paused" ] || fail "the run never reached commit $commit: $(cat "$err")"
  kill -INT "$pid"
  sleep 0.2
  rm "$WORK/paused"
  set +e
  wait "$pid"
  RC=$?
  set -e
}

interrupted_index 2 "$WORK/run.out" "$WORK/run.err" "$WORK/pics" --into "$WORK/c.irbis" --features hashes --commit-every 4
ERR=$(cat "$WORK/run.err")
assert_eq "$RC" 130 "an interrupted index exits 130 ($ERR)"
assert_contains "$ERR" "interrupted" "says it was interrupted"
assert_contains "$ERR" "irbis index $WORK/pics --into $WORK/c.irbis" "gives the command that resumes ($ERR)"
kept=$(grep -o 'kept [0-9]* ' <<<"$ERR" | grep -o '[0-9]*') || fail "says how many images were kept: $ERR"
[ "$kept" -ge 8 ] && [ "$kept" -lt "$N" ] || fail "kept $kept of $N: the commits before the signal, not all"
[ "$(wc -l <<<"$ERR")" -le 2 ] || fail "a short message: $ERR"

run info "$WORK/c.irbis" --json
assert_eq "$(json 'd["images"] + d["failed"]')" "$kept" "the catalog holds what the message says was kept"

run index "$WORK/pics" --into "$WORK/c.irbis" --features hashes --commit-every 4 --json
assert_eq "$RC" 0 "the re-run ($ERR)"
assert_eq "$(json '(d["unchanged"], d["added"])')" "($kept, $((N - kept)))" "the re-run resumes after the kept images"
for f in hashes color; do
  cmp "$WORK/clean.irbis/features/$f.f" "$WORK/c.irbis/features/$f.f" || fail "$f rows differ after the resumed run"
done

# --json: the interruption is in the report too.
interrupted_index 1 "$WORK/j.out" "$WORK/j.err" "$WORK/pics" --into "$WORK/j.irbis" --features hashes --commit-every 4 --json
assert_eq "$RC" 130 "--json: exit 130"
OUT=$(cat "$WORK/j.out")
assert_eq "$(json 'd["interrupted"]')" "True" "--json says interrupted"
echo PASS
