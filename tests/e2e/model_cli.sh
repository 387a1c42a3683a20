#!/usr/bin/env bash
# `irbis model list|add|import` end to end: exit codes, messages, --json. Uses the imported
# models in <repo>/models/onnx for `add` when they exist (./setup.sh makes them).
set -euo pipefail
IRBIS=${IRBIS:?path to the irbis binary}
SRC=${IRBIS_SOURCE_DIR:?source dir}
T=$(mktemp -d "${IRBIS_BINARY_DIR:-/tmp}/e2e-model-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# An empty registry lists nothing and says how to get the defaults.
IRBIS_MODEL_DIR=$T/empty "$IRBIS" model list | grep "run ./setup.sh" > /dev/null || fail "empty list message"
[ "$(IRBIS_MODEL_DIR=$T/empty "$IRBIS" model list --json | tr -d ' \n')" = "[]" ] || fail "empty --json"

# Not an ONNX file: ModelError, exit 3, message on stderr.
echo "hello" > "$T/bad.onnx"
set +e
"$IRBIS" model --dir "$T/reg" add "$T/bad.onnx" --name bad 2> "$T/err"; rc=$?
set -e
[ $rc = 3 ] || fail "bad onnx exit $rc"
grep -q "irbis: .*not an ONNX model" "$T/err" || fail "bad onnx message: $(cat "$T/err")"

# A TF.js folder that does not exist names the setup step.
set +e
"$IRBIS" model --dir "$T/reg" import "$T/nowhere" 2> "$T/err"; rc=$?
set -e
[ $rc = 3 ] || fail "missing tfjs exit $rc"
grep -q "fetch_models.sh" "$T/err" || fail "missing tfjs message: $(cat "$T/err")"

ONNX=$SRC/models/onnx/mobilenet_v2.onnx
if [ -f "$ONNX" ]; then
  set +e
  "$IRBIS" model --dir "$T/reg" add "$ONNX" --name mine --output flatten_1 --dim 999 2> "$T/err"; rc=$?
  set -e
  [ $rc = 3 ] || fail "wrong dim exit $rc"
  grep -q "dimension 999" "$T/err" || fail "wrong dim message: $(cat "$T/err")"
  "$IRBIS" model --dir "$T/reg" add "$ONNX" --name mine --input-size 224 --mean 0.5,0.5,0.5 --std 0.5,0.5,0.5 \
      --bgr --output flatten_1 --dim 1280 > /dev/null
  "$IRBIS" model --dir "$T/reg" list --json > "$T/list.json"
  grep -q '"name": "mine"' "$T/list.json" || fail "list --json lacks mine"
  grep -q '"color_order": "BGR"' "$T/list.json" || fail "list --json lacks BGR"
  grep -q '"embedding_dim": 1280' "$T/list.json" || fail "list --json lacks dim"
else
  echo "note: $ONNX missing (run ./setup.sh); skipping model add checks"
fi
echo "ok"
