"""The Python module against the CLI on the same files: same rows, hashes, groups, clusters and
embeddings; numpy/pandas in and out; errors; progress; GIL; merging partial collections."""
import csv
import io
import json
import os
import shutil
import threading
import time

import numpy as np
import pandas as pd
import pytest

import irbis
from conftest import run_cli


def cli_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def cli_col(cli, pics, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "cli.irbis"
    run_cli(cli, "index", pics, "--into", path, "--features", "hashes")
    return path


# ---------------------------------------------------------------------------------- same answers
def test_index_report_and_records(hashes_col, pics):
    with irbis.Collection.open(hashes_col) as col:
        recs = col.records()
        assert isinstance(recs, pd.DataFrame)
        assert list(recs.columns) == ["id", "path", "size", "mtime_ns", "content_hash", "format", "width",
                                      "height", "status", "reason"]
        assert recs["id"].tolist() == list(range(len(recs)))
        assert (recs["status"] == "ok").all()
        assert all(p.startswith(str(pics)) for p in recs["path"])
        assert len(col) == len(recs)
        # Re-running changes nothing.
        rep = col.index(pics)
        assert rep.unchanged == len(recs) and rep.added == 0 and rep.ok == 0
        assert rep.as_dict()["problems"] == []


def test_same_rows_and_hashes_as_cli(hashes_col, cli_col, cli, tmp_path):
    out = tmp_path / "h.csv"
    run_cli(cli, "export", cli_col, "--hashes", out)
    want = {r["path"]: [int(r[k], 16) for k in ("phash", "dhash", "ahash")] for r in csv.DictReader(open(out))}
    with irbis.Collection.open(hashes_col) as col:
        recs = col.records("ok")
        hashes = col.feature("hashes")
        assert hashes.dtype == np.uint64 and hashes.shape == (len(recs), 3)
        assert not hashes.flags.writeable  # a read-only memory map
        got = {p: hashes[i].tolist() for p, i in zip(recs["path"], recs["id"])}
    assert got == want
    cli_info = json.loads(run_cli(cli, "info", cli_col, "--json").stdout)
    with irbis.Collection.open(hashes_col) as col:
        info = col.info()
    assert info["images"] == cli_info["images"] and info["formats"] == cli_info["formats"]
    assert info["bytes"] == cli_info["bytes"]
    assert [f["name"] for f in info["features"]] == [f["name"] for f in cli_info["features"]]


def test_dupes_same_as_cli(hashes_col, cli_col, cli):
    want = cli_csv(run_cli(cli, "dupes", cli_col, "--format", "csv").stdout)
    with irbis.Collection.open(hashes_col) as col:
        df = col.dupes()
    assert list(df.columns)[:8] == ["group", "path", "role", "distance", "kind", "width", "height", "size"]
    got = [{k: str(v) for k, v in row.items() if k != "id"} for row in df.to_dict("records")]
    assert len(got) > 10
    assert got == want
    # Threshold and single linkage are passed through.
    want0 = cli_csv(run_cli(cli, "dupes", cli_col, "--format", "csv", "--threshold", "0").stdout)
    with irbis.Collection.open(hashes_col) as col:
        assert len(col.dupes(0)) == len(want0)
        assert len(col.dupes(8, single_linkage=True)) >= len(df)


def test_cluster_same_as_cli(hashes_col, cli_col, cli, tmp_path):
    out = tmp_path / "c.csv"
    run_cli(cli, "cluster", cli_col, "-k", "3", "--features", "hash", "--map", "pca", "--out", out)
    want = {r["path"]: r for r in csv.DictReader(open(out))}
    with irbis.Collection.open(hashes_col) as col:
        res = col.cluster(3, features="hash", map="pca")
    assert res.k == 3 and len(res.items) == len(want)
    assert res.centroids.shape == (3, 64)
    for row in res.items.to_dict("records"):
        w = want[row["path"]]
        assert int(w["cluster"]) == row["cluster"]
        assert float(w["x"]) == pytest.approx(row["x"], abs=1e-3)
        assert float(w["distance_to_centroid"]) == pytest.approx(row["distance_to_centroid"], abs=1e-3)
    assert res.report["k"] == 3 and len(res.report["clusters"]) == 3
    assert res.clusters["size"].sum() == len(want)
    # auto k with label scores
    with irbis.Collection.open(hashes_col) as col:
        res = col.cluster(auto=True, k_range=(2, 4), features="color", map="none", labels="folders")
    assert list(res.k_table["k"]) == [2, 3, 4] and res.scores is not None
    assert set(res.classes) == {"edits", "photos"}


def test_embeddings_same_as_cli(cnn_pics, cli, tmp_path):
    cli_path = tmp_path / "cli.irbis"
    run_cli(cli, "index", cnn_pics, "--into", cli_path)
    run_cli(cli, "export", cli_path, "--embeddings", tmp_path / "e.npy")
    want = np.load(tmp_path / "e.npy")
    want_paths = [r["path"] for r in csv.DictReader(open(tmp_path / "e.paths.csv"))]
    with irbis.Collection.create(tmp_path / "py.irbis") as col:
        seen = []
        rep = col.index(cnn_pics, progress=lambda done, total: seen.append((done, total)))
        assert rep.ok == len(want_paths)
        assert seen[-1] == (len(want_paths), len(want_paths))
        emb, paths = col.embeddings(with_paths=True)
        assert emb.dtype == np.float32 and emb.shape == want.shape and emb.flags.c_contiguous
        assert isinstance(emb.base, object) and not emb.flags.owndata  # wraps the C++ matrix, no copy
        assert paths == want_paths
        np.testing.assert_allclose(emb, want, atol=1e-5)
        assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
        sem = col.embeddings(view="semantic")
        assert sem.shape[0] == emb.shape[0] and sem.shape[1] < emb.shape[1]
        res = col.cluster(2, map="pca")  # cnn-semantic by default
        assert res.items["cluster"].nunique() == 2


def test_labels(hashes_col):
    with irbis.Collection.open(hashes_col) as col:
        lab = col.labels("folders")
    assert set(lab["label"]) == {"photos", "edits"}
    assert all(os.path.basename(os.path.dirname(p)) == l for p, l in zip(lab["path"], lab["label"]))


# ---------------------------------------------------------------------------------- numpy in
def test_numpy_in(hashes_col):
    with irbis.Collection.open(hashes_col) as col:
        h = np.ascontiguousarray(col.feature("hashes")[:, 0])
    pairs = irbis.find_near_pairs(h, 8)
    assert pairs.shape[1] == 3 and (pairs[:, 0] < pairs[:, 1]).all() and (pairs[:, 2] <= 8).all()
    brute = {(i, j) for i in range(len(h)) for j in range(i + 1, len(h))
             if bin(int(h[i]) ^ int(h[j])).count("1") <= 8}
    assert {(int(i), int(j)) for i, j, _ in pairs} == brute
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 0.1, (30, 5)), rng.normal(5, 0.1, (30, 5))])
    res = irbis.cluster_array(x, 2)
    assert sorted(np.bincount(res.items["cluster"])) == [30, 30]
    with pytest.raises(TypeError, match="hashes must be"):
        irbis.find_near_pairs(42, 8)
    with pytest.raises(TypeError, match="2-D"):
        irbis.cluster_array(np.zeros(5), 2)


# ---------------------------------------------------------------------------------- bad input
def test_type_errors(hashes_col, tmp_path):
    with pytest.raises(TypeError, match="path must be a path"):
        irbis.Collection.open(42)
    with irbis.Collection.open(hashes_col) as col:
        with pytest.raises(TypeError, match="roots must be a path or a list of paths, not int"):
            col.index(42)
        with pytest.raises(TypeError, match=r"roots\[1\] must be a path"):
            col.index([str(tmp_path), 3])
        with pytest.raises(TypeError, match="threshold must be an int, not str"):
            col.dupes("8")
        with pytest.raises(ValueError, match="threshold must be in 0..64"):
            col.dupes(65)
        with pytest.raises(TypeError, match="k must be an int"):
            col.cluster("3")
        with pytest.raises(TypeError, match="features must be"):
            col.index(tmp_path, features=[1])
        with pytest.raises(TypeError, match="progress must be"):
            col.index(tmp_path, progress="yes")
        with pytest.raises(irbis.UsageError, match="unknown feature 'colour'"):
            col.index(tmp_path, features=["colour"])
        with pytest.raises(irbis.UsageError, match="give k"):
            col.cluster()
        with pytest.raises(irbis.UsageError, match="unknown embedding view"):
            col.embeddings(view="nope")


def test_errors_have_the_cli_messages(cli, tmp_path, hashes_col):
    missing = tmp_path / "nope.irbis"
    r = run_cli(cli, "info", missing, check=False)
    with pytest.raises(irbis.StoreError) as e:
        irbis.Collection.open(missing)
    assert str(e.value) in r.stderr and "not an irbis collection" in str(e.value)
    assert isinstance(e.value, irbis.Error) and isinstance(e.value, RuntimeError)
    with irbis.Collection.open(hashes_col) as col:
        with pytest.raises(irbis.UsageError, match="no embeddings for model") as e:
            col.embeddings()
        assert isinstance(e.value, ValueError)
        with pytest.raises(irbis.ModelError, match="unknown model 'no-such-model'"):
            col.embeddings(model="no-such-model")
        with pytest.raises(NotImplementedError, match="lands with the search"):
            col.search("a.jpg")
        with pytest.raises(NotImplementedError, match="lands with the classifiers"):
            col.train()
    with pytest.raises(irbis.StoreError, match="already exists"):
        irbis.Collection.create(hashes_col)


def test_closed_collection_raises(hashes_col):
    col = irbis.Collection.open(hashes_col)
    col.close()
    col.close()  # idempotent
    assert col.closed and "closed" in repr(col)
    for call in (col.records, col.dupes, col.info, lambda: col.index("/tmp"), col.embeddings,
                 lambda: col.feature("hashes")):
        with pytest.raises(ValueError, match="closed collection"):
            call()


def test_failures_reported_like_cli(cli, pics, tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "empty.jpg").write_bytes(b"")
    (d / "random.jpg").write_bytes(os.urandom(3000))
    (d / "notes.txt").write_text("not an image")
    latin1 = os.path.join(os.fsencode(d), b"caf\xe9.jpg")
    good = sorted(pics.glob("photos/*.jpg"))[0]
    shutil.copy(good, os.fsdecode(latin1))
    run_cli(cli, "index", d, tmp_path / "missing-folder", "--into", tmp_path / "cli.irbis", "--features", "hashes")
    want = json.loads(run_cli(cli, "info", tmp_path / "cli.irbis", "--failures", "--json").stdout)
    with irbis.Collection.create(tmp_path / "py.irbis", model=None) as col:
        rep = col.index([d, tmp_path / "missing-folder"])
        assert rep.failed == 2 and rep.not_images == 1 and len(rep.problems) == 1
        f = col.failures()
        got = sorted(zip(f["path"], f["reason"]))
        recs = col.records()
    assert got == sorted((x["path"], x["reason"]) for x in want["failures"] + want["scan_problems"])
    # A non-UTF-8 name comes back as the same bytes.
    ok = recs[recs["status"] == "ok"]["path"].tolist()
    assert [os.fsencode(p) for p in ok] == [latin1]
    assert os.path.exists(ok[0])


def test_progress_exception_and_resume(pics, tmp_path):
    class Stop(Exception):
        pass

    def stop_at_half(done, total):
        if done >= total // 2:
            raise Stop(f"{done}/{total}")

    with irbis.Collection.create(tmp_path / "p.irbis", model=None) as col:
        with pytest.raises(Stop):
            col.index(pics, progress=stop_at_half)
    with irbis.Collection.open(tmp_path / "p.irbis") as col:
        rep = col.index(pics, progress=True)
        n = len(col.records("ok"))
        assert rep.unchanged + rep.added == n and rep.added > 0
        assert col.feature("hashes").shape[0] == len(col.records())


def test_gil_released_during_index(pics, tmp_path):
    ticks = 0
    done = threading.Event()

    def work():
        with irbis.Collection.create(tmp_path / "g.irbis", model=None) as col:
            col.index(pics, progress=None)
        done.set()

    t = threading.Thread(target=work)
    t0 = time.monotonic()
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    elapsed = time.monotonic() - t0
    # With the GIL held for the whole index, this loop could not run while it did.
    assert ticks > 20 * elapsed, (ticks, elapsed)


# ---------------------------------------------------------------------------------- merge
def test_merge_equals_single_run(pics, hashes_col, tmp_path):
    files = sorted(str(p) for p in pics.rglob("*") if p.is_file())
    half = len(files) // 2
    parts = []
    for i, chunk in enumerate((files[:half], files[half:])):
        with irbis.Collection.create(tmp_path / f"part{i}.irbis", model=None) as col:
            col.index(chunk)
        parts.append(tmp_path / f"part{i}.irbis")
    rep = irbis.merge_collections(tmp_path / "merged.irbis", parts)
    assert rep.partials == 2 and rep.failed == 0
    with irbis.Collection.open(tmp_path / "merged.irbis") as m, irbis.Collection.open(hashes_col) as s:
        mr, sr = m.records(), s.records()
        assert rep.records == len(mr) == len(sr)
        assert mr["path"].tolist() == files  # ids follow partition order (= sorted order here)
        mh, sh = m.feature("hashes"), s.feature("hashes")
        by_path = dict(zip(sr["path"], sr["id"]))
        for p, i, h in zip(mr["path"], mr["id"], mr["content_hash"]):
            assert (mh[i] == sh[by_path[p]]).all()
            assert h == sr["content_hash"][by_path[p]]
        np.testing.assert_array_equal(m.feature("color"), s.feature("color")[[by_path[p] for p in mr["path"]]])
        key = lambda df: sorted(tuple(sorted(g["path"])) for _, g in df.groupby("group"))
        assert key(m.dupes()) == key(s.dupes())
    # The same partials again: every path would be there twice.
    with pytest.raises(irbis.StoreError, match="already in the merged collection"):
        irbis.merge_collections(tmp_path / "merged.irbis", parts[:1])


def test_merge_refuses_different_models(pics, tmp_path):
    one = sorted(str(p) for p in pics.rglob("*.jpg"))[:2]
    with irbis.Collection.create(tmp_path / "h.irbis", model=None) as col:
        col.index(one[:1])
    with irbis.Collection.create(tmp_path / "c.irbis") as col:
        col.index(one[1:])
    with pytest.raises(irbis.StoreError, match="different features or models"):
        irbis.merge_collections(tmp_path / "m1.irbis", [tmp_path / "h.irbis", tmp_path / "c.irbis"])
    # Same model name, different weights.
    shutil.copytree(tmp_path / "c.irbis", tmp_path / "c2.irbis")
    with irbis.Collection.open(tmp_path / "c2.irbis") as col:
        key = f"model.{irbis.DEFAULT_MODEL}.onnx_sha256"
        assert len(col._c.meta(key)) == 64
        col._c.set_meta(key, "0" * 64)
    with pytest.raises(irbis.StoreError, match="different weights"):
        irbis.merge_collections(tmp_path / "m2.irbis", [tmp_path / "c.irbis", tmp_path / "c2.irbis"])
    with pytest.raises(irbis.StoreError, match="not an irbis collection"):
        irbis.merge_collections(tmp_path / "m3.irbis", [tmp_path / "none.irbis"])
    assert not os.path.exists(tmp_path / "m1.irbis" / "features" / "hashes.f")  # refused before writing
