"""Fixtures for the Python tests (tests/python/, run by tests/e2e/python.sh through ctest, or
directly: PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python)."""
import csv
import os
import shutil
import subprocess

import pytest

import irbis
from irbis import _build_config


def cli_path():
    return os.environ.get("IRBIS") or _build_config.CLI


@pytest.fixture(scope="session")
def cli():
    p = cli_path()
    if not os.access(p, os.X_OK):
        pytest.skip(f"irbis CLI not built at {p}")
    return p


def run_cli(cli, *args, check=True):
    r = subprocess.run([cli, *map(str, args)], capture_output=True, text=True)
    if check and r.returncode not in (0, 2):
        raise AssertionError(f"irbis {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}")
    return r


@pytest.fixture(scope="session")
def sample_all(tmp_path_factory, cli):
    """`irbis sample`: real photos plus altered copies, with truth.csv."""
    d = tmp_path_factory.mktemp("sample") / "all"
    run_cli(cli, "sample", d)
    return d


def subset(sample_all, dest, originals, expect=None):
    """Copies `originals` distinct photos and their altered copies into dest (photos/, edits/)."""
    rows = list(csv.DictReader(open(sample_all / "truth.csv")))
    keep = sorted({r["path"] for r in rows if r["expect"] == "original"})[:originals]
    for r in rows:
        root = r["path"] if r["expect"] == "original" else r["original"]
        if root in keep and (expect is None or r["expect"] in expect):
            (dest / os.path.dirname(r["path"])).mkdir(parents=True, exist_ok=True)
            shutil.copy2(sample_all / r["path"], dest / r["path"])
    return dest


@pytest.fixture(scope="session")
def pics(sample_all, tmp_path_factory):
    """About 30 images: 8 originals with their exact, near and heavier copies."""
    return subset(sample_all, tmp_path_factory.mktemp("pics") / "pics", 8)


@pytest.fixture(scope="session")
def cnn_pics(sample_all, tmp_path_factory):
    """A small CNN subset: 3 originals and their flips/rotations."""
    return subset(sample_all, tmp_path_factory.mktemp("cnn") / "cnn", 3, expect={"original", "cnn"})


@pytest.fixture(scope="session")
def hashes_col(pics, tmp_path_factory):
    """`pics` indexed from Python, hashes only (closed; open it again in a test)."""
    path = tmp_path_factory.mktemp("col") / "pics.irbis"
    with irbis.Collection.create(path, model=None) as col:
        rep = col.index([pics])
        assert rep.failed == 0 and rep.ok > 20
    return path
