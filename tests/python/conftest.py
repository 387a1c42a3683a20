"""Fixtures for the Python tests (tests/python/, run by tests/e2e/python.sh through ctest, or
directly: PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python).

With IRBIS_PYTEST_STRICT=1 (what tests/e2e/python.sh sets unless IRBIS_PYTHON_TESTS_OPTIONAL=1) a
skipped test or module fails instead: setup.sh installs everything they need, so a skip in CI
means a test that silently did not run."""
import csv
import os
import shutil
import subprocess

import numpy as np
import pytest

import irbis
from irbis import _build_config


STRICT = os.environ.get("IRBIS_PYTEST_STRICT") == "1"


def _fail_skip(report):
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but IRBIS_PYTEST_STRICT=1 requires every test to run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip(outcome.get_result())


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
    """A small CNN subset: 5 originals and their flips, rotations, crops and banners (about 10)."""
    return subset(sample_all, tmp_path_factory.mktemp("cnn") / "cnn", 5, expect={"original", "cnn"})


@pytest.fixture(scope="session")
def hashes_col(pics, tmp_path_factory):
    """`pics` indexed from Python, hashes only (closed; open it again in a test)."""
    path = tmp_path_factory.mktemp("col") / "pics.irbis"
    with irbis.Collection.create(path, model=None) as col:
        rep = col.index([pics])
        assert rep.failed == 0 and rep.ok > 20
    return path


@pytest.fixture(scope="session")
def cnn_col(cnn_pics, tmp_path_factory):
    """`cnn_pics` indexed from Python with hashes and CNN embeddings (closed), and the progress
    calls the index made."""
    path = tmp_path_factory.mktemp("cnncol") / "cnn.irbis"
    seen = []
    with irbis.Collection.create(path) as col:
        rep = col.index(cnn_pics, progress=lambda done, total: seen.append((done, total)))
        assert rep.failed == 0 and rep.ok >= 8
    return path, seen


def _class_image(rng, checker):
    """160 x 160: a random colour gradient with noise; "checker" has a black/white checkerboard
    in the centre, "plain" a flat grey there (the classes differ only in the centre)."""
    h = w = 160
    yy, xx = np.mgrid[0:h, 0:w]
    c0, c1 = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
    t = (xx * rng.uniform(0.3, 1) + yy * rng.uniform(0.3, 1)) / (2 * w)
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    img += rng.normal(0, 6, img.shape)
    if checker:
        sq = int(rng.integers(6, 10))
        img[50:110, 50:110] = (((yy // sq + xx // sq) % 2) * 255.0)[50:110, 50:110, None]
    else:
        img[50:110, 50:110] = 128 + rng.normal(0, 3, (60, 60, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


CLASS_IMAGES = 14  # per class: 28 CNN-embedded images in all (CI has 2 cores)


@pytest.fixture(scope="session")
def classes_dir(tmp_path_factory):
    """Two visually distinct generated classes in class folders (pics/checker, pics/plain) and
    two new images to predict (new/c.png: checker, new/p.png: plain)."""
    import cv2

    root = tmp_path_factory.mktemp("classes")
    rng = np.random.default_rng(7)
    for cls in ("checker", "plain"):
        (root / "pics" / cls).mkdir(parents=True)
        for i in range(CLASS_IMAGES):
            cv2.imwrite(str(root / "pics" / cls / f"{i:02d}.png"), _class_image(rng, cls == "checker"))
    (root / "new").mkdir()
    cv2.imwrite(str(root / "new" / "c.png"), _class_image(rng, True))
    cv2.imwrite(str(root / "new" / "p.png"), _class_image(rng, False))
    return root


@pytest.fixture(scope="session")
def classes_col(classes_dir, tmp_path_factory):
    """classes_dir/pics indexed from Python (hashes + CNN embeddings), closed."""
    path = tmp_path_factory.mktemp("clscol") / "classes.irbis"
    with irbis.Collection.create(path) as col:
        rep = col.index(classes_dir / "pics")
        assert rep.ok == 2 * CLASS_IMAGES and rep.failed == 0
    return path
