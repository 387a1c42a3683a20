# Command-line mistakes get one short line naming the mistake, a "did you mean" when a command or
# option is close, the usage line, and exit 1 (git/cargo style); no 300-digit range bounds.
source "$(dirname "$0")/lib/common.bash"

run dupe x
assert_eq "$RC" 1 "unknown command"
assert_contains "$ERR" "unknown command 'dupe'; did you mean 'dupes'?" "did you mean a command"
assert_contains "$ERR" "Usage: irbis" "usage line"
run frobnicate
assert_eq "$RC" 1 "unrelated command"
assert_contains "$ERR" "commands: index, dupes" "lists the commands"
mkdir "$WORK/c.irbis"
run "$WORK/c.irbis" dupes --threshold 4
assert_eq "$RC" 1 "collection before the command"
assert_contains "$ERR" "the command comes first: \`irbis dupes $WORK/c.irbis --threshold 4\`" "suggests the order"
run dupes "$WORK/c.irbis" --treshold 4
assert_eq "$RC" 1 "misspelt option"
assert_contains "$ERR" "unknown option '--treshold'; did you mean '--threshold'?" "did you mean an option"
assert_contains "$ERR" "Usage: irbis dupes" "subcommand usage line"
run search "$WORK/c.irbis" -k 0
assert_eq "$RC" 1 "-k 0"
assert_contains "$ERR" "-k: must be greater than 0 (got 0)" "short range message"
[ "${#ERR}" -lt 300 ] || fail "range message too long: $ERR"
run serve "$WORK/c.irbis" --port 70000
assert_contains "$ERR" "--port: must be between 0 and 65535 (got 70000)" "port range"
run --help
assert_eq "$RC" 0 "--help"
echo PASS
