# Shared by the end-to-end tests: strict mode, a scratch folder, and assertions that say what failed.
set -euo pipefail
: "${IRBIS:?IRBIS must point at the irbis binary (ctest sets it)}"
PY=/usr/bin/python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/irbis-e2e-$(basename "$0" .sh)-XXXXXX")
chmod 755 "$WORK"
cleanup() { chmod -R u+rwX "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
assert_eq() { [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"; }
assert_contains() { grep -qF -- "$2" <<<"$1" || fail "$3: output does not contain '$2'"; }
# Runs irbis, capturing stdout in $OUT and the exit code in $RC, without tripping `set -e`.
run() { set +e; OUT=$("$IRBIS" "$@" 2>"$WORK/stderr"); RC=$?; set -e; ERR=$(cat "$WORK/stderr"); }
json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)" <<<"$OUT"; }
