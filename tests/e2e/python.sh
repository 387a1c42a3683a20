# The Python package as a user installs it: a venv made with Debian's python3
# (--system-site-packages: numpy, pandas, dask, pytest come from apt), `pip install
# --no-build-isolation --no-index` of the module CMake built, then pytest over tests/python
# (bindings vs the CLI, search/unique/classifiers, merge, Dask LocalCluster with a killed worker).
#
# setup.sh installs everything this needs, so a missing module, pytest, pandas or distributed, or
# any skipped test, FAILS: a green CI run proves every Python test ran, the killed-worker Dask test
# included. IRBIS_PYTHON_TESTS_OPTIONAL=1 opts out (skip when something is missing, allow skips).
source "$(dirname "$0")/lib/common.bash"
: "${IRBIS_SOURCE_DIR:?}" "${IRBIS_BINARY_DIR:?}"
OPTIONAL=${IRBIS_PYTHON_TESTS_OPTIONAL:-0}
missing() {
  if [ "$OPTIONAL" = 1 ]; then echo "SKIP: $* (IRBIS_PYTHON_TESTS_OPTIONAL=1)"; exit 77; fi
  fail "$* (run ./setup.sh; IRBIS_PYTHON_TESTS_OPTIONAL=1 skips the Python tests instead)"
}
if ! ls "$IRBIS_BINARY_DIR"/python/irbis/_irbis*.so >/dev/null 2>&1; then
  missing "the Python module is not built (IRBIS_BUILD_PYTHON=OFF or pybind11-dev missing)"
fi
for mod in pytest numpy pandas cv2 distributed; do
  $PY -c "import $mod" 2>/dev/null || missing "$PY cannot import $mod (Debian package python3-${mod/cv2/opencv})"
done

VENV="$WORK/venv"
$PY -m venv --system-site-packages "$VENV"
IRBIS_BUILD_DIR="$IRBIS_BINARY_DIR" "$VENV/bin/pip" install -q --no-build-isolation --no-index \
  --disable-pip-version-check "$IRBIS_SOURCE_DIR" > "$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log"; fail "pip install"; }
where=$("$VENV/bin/python" -c "import irbis, os; print(os.path.dirname(irbis.__file__))")
assert_contains "$where" "$VENV" "irbis is imported from the venv"

cd "$WORK"
[ "$OPTIONAL" = 1 ] || export IRBIS_PYTEST_STRICT=1  # conftest.py: a skip is a failure
"$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider --basetemp="$WORK/pytest" --junitxml="$WORK/junit.xml" \
  "$IRBIS_SOURCE_DIR/tests/python" ${IRBIS_PYTEST_ARGS:-}

# Proof that the Dask scale-out tests ran and passed (not skipped, not deselected).
if [ "$OPTIONAL" != 1 ] && [ -z "${IRBIS_PYTEST_ARGS:-}" ]; then
  $PY - "$WORK/junit.xml" <<'PYEOF' || fail "the Dask tests did not all run"
import sys, xml.etree.ElementTree as ET
cases = {c.get("name"): c for c in ET.parse(sys.argv[1]).iter("testcase")}
need = ["test_distributed_equals_single_machine_with_a_killed_worker", "test_distributed_cnn_and_failures"]
for name in need:
    c = cases.get(name)
    bad = [] if c is None else [e.tag for e in c if e.tag in ("failure", "error", "skipped")]
    if c is None or bad:
        sys.exit(f"{name}: {'not run' if c is None else bad[0]}")
print("dask tests ran:", ", ".join(need))
PYEOF
fi
echo "PASS"
