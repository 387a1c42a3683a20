# One image, one embedding: index (stored rows), predict on the file, explain, search with the
# file and search by upload (`serve`, raw bytes with and without a Content-Type) decode and embed
# the same file the same way, so their probabilities and similarities agree. Large JPEGs make the
# DCT-scaled decode matter (a different min_side picks a different scale and different pixels).
source "$(dirname "$0")/lib/common.bash"

$PY - "$WORK/pics" <<'PYEOF'
import os, sys
import numpy as np, cv2
root = sys.argv[1]
rng = np.random.default_rng(3)
for cls, freq in (("waves", 9), ("blobs", 2)):
    os.makedirs(f"{root}/{cls}", exist_ok=True)
    for i in range(5):
        h, w = 900, 1300
        yy, xx = np.mgrid[0:h, 0:w] / 100.0
        ph = rng.uniform(0, 6, 3)
        img = np.stack([128 + 100 * np.sin(freq * (xx + yy * rng.uniform(0.2, 1)) + p) for p in ph], -1)
        img += rng.normal(0, 8, img.shape)
        cv2.imwrite(f"{root}/{cls}/{i}.jpg", np.clip(img, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90])
PYEOF
P=$WORK/pics
"$IRBIS" index "$P" --into "$WORK/c.irbis" > /dev/null 2>&1
"$IRBIS" train "$WORK/c.irbis" --labels folders --no-refit --test-fraction 0.4 --out "$WORK/m.clf" --seed 1 > /dev/null

F=$P/waves/1.jpg
run predict "$WORK/m.clf" "$F" --json
assert_eq "$RC" 0 "predict ($ERR)"
PRED=$OUT
run predict "$WORK/m.clf" --collection "$WORK/c.irbis" --json
STORED=$OUT
run explain "$WORK/m.clf" "$F" --superpixels 12 --samples 20 --json
assert_eq "$RC" 0 "explain ($ERR)"
EXPL=$OUT
$PY - "$F" <<PYEOF || fail "predict (file) vs predict (stored embedding) vs explain"
import json, sys
f = sys.argv[1]
pred = json.loads('''$PRED''')[0]["probabilities"]
stored = next(r for r in json.loads('''$STORED''') if r["path"].endswith("waves/1.jpg"))["probabilities"]
expl = json.loads('''$EXPL''')["probabilities"]
for name, other in (("stored", stored), ("explain", expl)):
    for c in pred:
        assert abs(pred[c] - other[c]) < 1e-5, (name, c, pred[c], other[c])
print("same probabilities:", pred)
PYEOF

run search "$WORK/c.irbis" "$F" -k 1 --json
assert_eq "$RC" 0 "search with the file ($ERR)"
assert_eq "$(json 'd["results"][0]["path"].endswith("waves/1.jpg") and d["results"][0]["similarity"] > 0.99999')" True \
  "search with the file finds its own stored embedding ($OUT)"

# --- search by upload: raw bytes, with and without a Content-Type (curl --data-binary's default
# application/x-www-form-urlencoded was refused as "too large" over 8 KB) ---
"$IRBIS" serve "$WORK/c.irbis" --port 0 > "$WORK/serve.out" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do grep -q http "$WORK/serve.out" && break; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out") || fail "serve did not start: $(cat "$WORK/serve.out")"
$PY - "$URL" "$F" <<'PYEOF' || fail "search by upload"
import http.client, json, os, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1]); body = open(sys.argv[2], "rb").read()
assert len(body) > 8192, len(body)
for headers in ({}, {"Content-Type": "application/x-www-form-urlencoded"}, {"Content-Type": "image/jpeg"}):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    c.request("POST", "/api/search?k=1", body=body, headers=headers)
    r = c.getresponse(); d = r.read(); c.close()
    assert r.status == 200, (headers, r.status, d[:200])
    top = json.loads(d)["results"][0]
    assert top["path"].endswith("waves/1.jpg") and top["similarity"] > 0.99999, (headers, top)
# multipart still works
boundary = "xyzzy"
mp = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.jpg\"\r\n"
      f"Content-Type: image/jpeg\r\n\r\n").encode() + body + f"\r\n--{boundary}--\r\n".encode()
c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
c.request("POST", "/api/search?k=1", body=mp, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
r = c.getresponse(); d = r.read(); c.close()
assert r.status == 200 and json.loads(d)["results"][0]["similarity"] > 0.99999, (r.status, d[:200])
print("upload embeddings match the index")
PYEOF
kill $PID
