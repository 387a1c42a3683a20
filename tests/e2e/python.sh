# The Python package as a user installs it: a venv made with Debian's python3
# (--system-site-packages: numpy, pandas, dask, pytest come from apt), `pip install
# --no-build-isolation --no-index` of the module CMake built, then pytest over tests/python
# (bindings vs the CLI, merge, Dask LocalCluster with a killed worker).
source "$(dirname "$0")/lib/common.bash"
: "${IRBIS_SOURCE_DIR:?}" "${IRBIS_BINARY_DIR:?}"
if ! ls "$IRBIS_BINARY_DIR"/python/irbis/_irbis*.so >/dev/null 2>&1; then
  echo "SKIP: the Python module is not built (IRBIS_BUILD_PYTHON=OFF or pybind11-dev missing)"
  exit 77
fi
$PY -c "import pytest" 2>/dev/null || { echo "SKIP: python3-pytest is not installed"; exit 77; }

VENV="$WORK/venv"
$PY -m venv --system-site-packages "$VENV"
IRBIS_BUILD_DIR="$IRBIS_BINARY_DIR" "$VENV/bin/pip" install -q --no-build-isolation --no-index \
  --disable-pip-version-check "$IRBIS_SOURCE_DIR" > "$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log"; fail "pip install"; }
where=$("$VENV/bin/python" -c "import irbis, os; print(os.path.dirname(irbis.__file__))")
assert_contains "$where" "$VENV" "irbis is imported from the venv"

cd "$WORK"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider --basetemp="$WORK/pytest" \
  "$IRBIS_SOURCE_DIR/tests/python" ${IRBIS_PYTEST_ARGS:-}
echo "PASS"
