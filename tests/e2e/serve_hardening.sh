# `irbis serve` next to a browser and a hostile client (issue 16, docs/reliability.md): Host names
# other than this server's are refused (DNS rebinding), cross-origin writes are refused and no CORS
# header is sent, multi-range requests are refused and originals are streamed exactly, out-of-range
# query integers are 400, and clients trickling headers neither block a normal request nor keep
# their connection past the header deadline. A thumbnail the cache cannot take (a full disk) is
# answered from memory and leaves no file.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
"$IRBIS" index "$WORK/pics" --into "$WORK/c.irbis" --features hashes > /dev/null
"$IRBIS" serve "$WORK/c.irbis" --port 0 > "$WORK/serve.out" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do grep -q http "$WORK/serve.out" && break; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out") || fail "serve did not start: $(cat "$WORK/serve.out")"
PORT=${URL##*:}

code() { curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$@"; }

# --- Host: only names of this server ---
assert_eq "$(code "$URL/api/overview")" 200 "plain request"
assert_eq "$(code -H "Host: localhost:$PORT" "$URL/api/overview")" 200 "Host localhost"
assert_eq "$(code -H "Host: [::1]:$PORT" "$URL/api/overview")" 200 "Host [::1]"
assert_eq "$(code -H "Host: evil.example:$PORT" "$URL/api/overview")" 403 "rebinding Host"
assert_eq "$(code -H "Host: evil.example" "$URL/")" 403 "rebinding Host, page"
assert_eq "$(code -H "Host: localhost:1" "$URL/api/overview")" 403 "Host with another port"
grep -qi '^access-control-' "$WORK/headers" && fail "CORS header sent"

# --- cross-origin writes ---
IMG=$(find "$WORK/pics" -name '*.jpg' -print -quit)
assert_eq "$(code -X POST -H "Origin: http://evil.example" -H "Content-Type: application/octet-stream" --data-binary @"$IMG" "$URL/api/search")" 403 "cross-origin POST"
assert_contains "$(cat "$WORK/body")" "cross-origin" "cross-origin POST message"
assert_eq "$(code -X POST -H "Sec-Fetch-Site: cross-site" -F "image=@$IMG" "$URL/api/search")" 403 "cross-site POST"
assert_eq "$(code -X POST -H "Origin: null" -H "Content-Type: application/octet-stream" --data-binary @"$IMG" "$URL/api/search")" 403 "opaque-origin POST"
# Same origin and no Origin (curl) reach the route: no embeddings here, so 404 "not available".
assert_eq "$(code -X POST -H "Origin: http://127.0.0.1:$PORT" -H "Content-Type: application/octet-stream" --data-binary @"$IMG" "$URL/api/search")" 404 "same-origin POST"
assert_eq "$(code -X POST -H "Content-Type: application/octet-stream" --data-binary @"$IMG" "$URL/api/search")" 404 "POST without Origin"
grep -qi '^access-control-' "$WORK/headers" && fail "CORS header sent"

# --- ranges and streamed originals ---
ID=$(curl -s "$URL/api/images?limit=1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
FILE=$(curl -s "$URL/api/images/$ID" | $PY -c 'import json,sys; print(json.load(sys.stdin)["path"])')
assert_eq "$(code "$URL/images/$ID")" 200 "original"
cmp -s "$WORK/body" "$FILE" || fail "streamed original differs from the file"
assert_eq "$(code -H "Range: bytes=10-109" "$URL/images/$ID")" 206 "single range"
cmp -s "$WORK/body" <(tail -c +11 "$FILE" | head -c 100) || fail "range bytes differ"
RANGES="bytes=0-$(printf ',0-%.0s' $(seq 300))"
assert_eq "$(code -H "Range: $RANGES" "$URL/images/$ID")" 416 "300 ranges"
[ "$(stat -c %s "$WORK/body")" -lt 1000 ] || fail "multi-range answer is not small"
assert_eq "$(code -H "Range: bytes=0-1,5-9" "$URL/images/$ID")" 416 "two ranges"

# --- query integers: out of range or overflowing is 400, never clamped ---
for q in "images?offset=9223372036854775807" "images?offset=-1" "images?limit=-5" "images?limit=0" \
         "images?limit=1001" "images?offset=99999999999999999999" "dupes?offset=9223372036854775807" \
         "dupes?limit=-1" "images?offset=1e3" "images?offset=%2B5" "images?offset="; do
  assert_eq "$(code "$URL/api/$q")" 400 "/api/$q"
  assert_contains "$(cat "$WORK/body")" "must be an integer from" "/api/$q message"
done
assert_eq "$(code "$URL/dupes?page=2147483647")" 400 "page overflow"
assert_eq "$(code "$URL/dupes?page=-1")" 400 "negative page"
assert_eq "$(code "$URL/api/images?offset=1099511627776&limit=1000")" 200 "largest offset"

# --- slowloris: 40 clients (more than the 32 workers of old) trickle a header line each second ---
$PY - "$PORT" <<'PYEOF' || fail "slowloris"
import socket, sys, time, urllib.request
port = int(sys.argv[1])
slow = []
for i in range(40):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /api/overview HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    slow.append(s)
start = time.time()
answered = None
cut = set()
while time.time() - start < 14:
    for i, s in enumerate(slow):
        if i in cut: continue
        try:
            s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            cut.add(i)
    if answered is None and time.time() - start > 1:
        t0 = time.time()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/overview", timeout=8) as r:
            assert r.status == 200
        answered = time.time() - t0
    time.sleep(1)
for i, s in enumerate(slow):  # the server ends each trickling request at its header deadline
    s.settimeout(3)
    try:
        s.recv(100)  # an error answer or the end of the stream: the server ended it
        cut.add(i)
    except socket.timeout:
        pass  # still open past the deadline
    except OSError:
        cut.add(i)
print(f"normal request answered in {answered:.3f} s next to 40 slow clients; {len(cut)} of 40 cut by the deadline")
assert answered is not None and answered < 1.0, answered
assert len(cut) == 40, len(cut)
PYEOF
kill -0 $PID || fail "server died"

# --- a full disk under the thumbnail cache: answered from memory, nothing left in thumbs/ ---
kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true
rm -rf "$WORK/c.irbis/thumbs"
IRBIS_FAULT_IO_ERROR=sync:ENOSPC:/thumbs/ "$IRBIS" serve "$WORK/c.irbis" --port 0 > "$WORK/serve2.out" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q http "$WORK/serve2.out" && break; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve2.out") || fail "serve did not start: $(cat "$WORK/serve2.out")"
assert_eq "$(code "$URL/thumbs/$ID.jpg")" 200 "thumbnail on a full disk"
assert_eq "$(head -c 3 "$WORK/body" | od -An -tx1 | tr -d ' ')" "ffd8ff" "the answer is a JPEG"
cp "$WORK/body" "$WORK/uncached.jpg"
assert_contains "$(grep -i '^x-irbis-thumbnail-cache:' "$WORK/headers")" "No space left on device" "the header says why it was not cached"
[ -z "$(ls -A "$WORK/c.irbis/thumbs" 2>/dev/null)" ] || fail "a failed thumbnail write left: $(ls "$WORK/c.irbis/thumbs")"
kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true
"$IRBIS" serve "$WORK/c.irbis" --port 0 > "$WORK/serve3.out" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q http "$WORK/serve3.out" && break; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve3.out") || fail "serve did not start: $(cat "$WORK/serve3.out")"
assert_eq "$(code "$URL/thumbs/$ID.jpg")" 200 "thumbnail with room on the disk"
grep -qi '^x-irbis-thumbnail-cache:' "$WORK/headers" && fail "cached, yet the header says it was not"
cmp -s "$WORK/body" "$WORK/uncached.jpg" || fail "the uncached answer differs from the cached thumbnail"
cmp -s "$WORK/body" "$WORK/c.irbis/thumbs/$ID.jpg" || fail "the cached file differs from the answer"
echo "serve_hardening: ok"
