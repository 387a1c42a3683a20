# `irbis serve` binds the port it prints, alone: a taken port is an error naming it (exit 3), an
# out-of-range --port a usage error (exit 1), and --port 0 prints the port the OS picked.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
"$IRBIS" index "$WORK/pics" --into "$WORK/c.irbis" --features hashes > /dev/null 2>&1  # no CNN: seconds under ASan

run serve "$WORK/c.irbis" --port 99999
assert_eq "$RC" 1 "--port 99999 is a usage error"
assert_contains "$ERR" "--port" "the message names the option ($ERR)"
assert_contains "$ERR" "65535" "the message gives the range ($ERR)"
[ "$(wc -l <<<"$ERR")" -le 3 ] || fail "short message: $ERR"

"$IRBIS" serve "$WORK/c.irbis" --port 0 > "$WORK/serve.out" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do grep -q http "$WORK/serve.out" && break; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out") || fail "serve did not start: $(cat "$WORK/serve.out")"
PORT=${URL##*:}
[ "$PORT" -gt 0 ] || fail "--port 0 must print the real port, got $PORT"
$PY -c "import urllib.request; assert urllib.request.urlopen('$URL/api/overview', timeout=60).status == 200" || fail "not listening on the printed port $PORT"

# A second server on the same port must fail, not share it (SO_REUSEPORT) and receive nothing.
# It must also free what it allocated: under the sanitizer build (scripts/sanitize.sh turns leak
# checks off for the tests, for third-party one-time allocations) this run checks leaks, which
# found a shared_ptr cycle in the serve command's options; elsewhere ASAN_OPTIONS is ignored.
set +e
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1" \
  timeout 20 "$IRBIS" serve "$WORK/c.irbis" --port "$PORT" > "$WORK/second.out" 2> "$WORK/second.err"
RC=$?
set -e
assert_eq "$RC" 3 "a taken port is fatal ($(cat "$WORK/second.out" "$WORK/second.err"))"
assert_contains "$(cat "$WORK/second.err")" "cannot listen on 127.0.0.1:$PORT" "names the address"
assert_contains "$(cat "$WORK/second.err")" "--port 0" "suggests a free port"
[ ! -s "$WORK/second.out" ] || fail "the second server printed a URL: $(cat "$WORK/second.out")"
kill $PID
echo PASS
