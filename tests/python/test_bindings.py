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


def dupes_row_as_csv(row):
    """A row of Collection.dupes() as `irbis dupes --format csv` prints it (missing evidence: empty)."""
    def cell(k, v):
        if k in ("variant_distance", "dhash_distance", "inliers"):
            return "" if np.isnan(v) else str(int(v))
        if k == "similarity":
            return "" if np.isnan(v) else f"{v:.4f}"
        return "" if v is None else str(v)
    return {k: cell(k, v) for k, v in row.items()}


def test_dupes_same_as_cli(hashes_col, cli_col, cli):
    # Two collections of the same files: the ids may differ, the rest must not.
    want = [{k: v for k, v in r.items() if k != "id"} for r in cli_csv(run_cli(cli, "dupes", cli_col, "--format", "csv").stdout)]
    with irbis.Collection.open(hashes_col) as col:
        df = col.dupes()
    assert list(df.columns) == ["group", "path", "role", "distance", "kind", "width", "height", "size",
                                "variant_distance", "variant", "dhash_distance", "inliers", "id"]
    got = [{k: v for k, v in dupes_row_as_csv(row).items() if k != "id"} for row in df.to_dict("records")]
    assert len(got) > 10
    assert got == want
    # The evidence: every duplicate has its mirror distance (index stores the mirror pHash).
    dups = df[df.role == "duplicate"]
    assert (dups["variant_distance"] >= 0).all() and set(dups["variant"]) <= {"mirror"}
    # The threshold is passed through; single_linkage is gone and says so.
    want0 = cli_csv(run_cli(cli, "dupes", cli_col, "--format", "csv", "--threshold", "0").stdout)
    with irbis.Collection.open(hashes_col) as col:
        assert len(col.dupes(0)) == len(want0)
        with pytest.raises(irbis.UsageError, match="single_linkage was removed"):
            col.dupes(single_linkage=True)


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


def test_embeddings_same_as_cli(cnn_pics, cnn_col, cli, tmp_path):
    cli_path = tmp_path / "cli.irbis"
    run_cli(cli, "index", cnn_pics, "--into", cli_path)
    run_cli(cli, "export", cli_path, "--embeddings", tmp_path / "e.npy")
    want = np.load(tmp_path / "e.npy")
    want_paths = [r["path"] for r in csv.DictReader(open(tmp_path / "e.paths.csv"))]
    path, seen = cnn_col
    with irbis.Collection.open(path) as col:
        assert len(col) == len(want_paths)
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
        with pytest.raises(irbis.UsageError, match="no embeddings for model") as e:
            col.search("a.jpg")
        assert str(e.value) in run_cli(cli, "search", hashes_col, "a.jpg", check=False).stderr
        with pytest.raises(irbis.UsageError, match="no embeddings for model"):
            col.train()
    with pytest.raises(irbis.StoreError, match="already exists"):
        irbis.Collection.create(hashes_col)


def test_closed_collection_raises(hashes_col):
    col = irbis.Collection.open(hashes_col)
    col.close()
    col.close()  # idempotent
    assert col.closed and "closed" in repr(col)
    for call in (col.records, col.dupes, col.info, lambda: col.index("/tmp"), col.embeddings,
                 lambda: col.feature("hashes"), lambda: col.search(id=0), col.unique, col.train,
                 lambda: col.dupes(cnn=True)):
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
    # The CLI refuses a missing source before creating anything (a typo must not make a
    # collection); the library records it as a scan problem of the run and indexes the rest.
    r = run_cli(cli, "index", d, tmp_path / "missing-folder", "--into", tmp_path / "cli.irbis", check=False)
    assert r.returncode == 1 and "missing-folder" in r.stderr and not (tmp_path / "cli.irbis").exists()
    run_cli(cli, "index", d, "--into", tmp_path / "cli.irbis", "--features", "hashes")
    want = json.loads(run_cli(cli, "info", tmp_path / "cli.irbis", "--failures", "--json").stdout)
    with irbis.Collection.create(tmp_path / "py.irbis", model=None) as col:
        rep = col.index([d, tmp_path / "missing-folder"])
        assert rep.failed == 2 and rep.not_images == 1 and len(rep.problems) == 1
        assert "missing-folder" in str(rep.problems[0])
        f = col.failures()
        got = sorted((p, why) for p, why in zip(f["path"], f["reason"]) if "missing-folder" not in p)
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



# ---------------------------------------------------------------------------------- search, unique, dupes --cnn
def test_search_finds_itself_and_matches_cli(cnn_col, cli):
    path, _ = cnn_col
    with irbis.Collection.open(path) as col:
        recs = col.records("ok")
        emb = col.embeddings()
        n = len(recs)
        for i in (0, n // 2):
            p, pid = recs["path"][i], int(recs["id"][i])
            # An indexed file given as a query file is embedded again and finds itself first.
            df = col.search(p, k=3)
            assert isinstance(df, pd.DataFrame)
            assert list(df.columns) == ["rank", "id", "path", "similarity", "distance"]
            assert df["rank"].tolist() == [1, 2, 3]
            assert df["path"][0] == p and df["id"][0] == pid
            assert df["similarity"][0] == pytest.approx(1, abs=1e-4)
            assert (np.diff(df["similarity"]) <= 0).all()
            np.testing.assert_allclose(df["distance"], 1 - df["similarity"])
            # By id or path: itself excluded, the rest in the same order.
            by_id = col.search(id=pid, k=2)
            assert pid not in by_id["id"].tolist()
            assert by_id["id"].tolist() == df["id"][1:].tolist()
            assert col.search(path=p, k=2)["id"].tolist() == by_id["id"].tolist()
            # By its stored vector: itself first again, with the stored similarities.
            by_vec = col.search(emb[i], k=3)
            assert by_vec["id"].tolist() == df["id"].tolist()
            np.testing.assert_allclose(by_vec["similarity"], emb[by_vec["id"]] @ emb[i], atol=1e-5)
            # The same answer as the CLI.
            want = cli_csv(run_cli(cli, "search", path, "--id", pid, "-k", 2, "--format", "csv").stdout)
            assert [r["path"] for r in want] == by_id["path"].tolist()
            assert [float(r["similarity"]) for r in want] == pytest.approx(by_id["similarity"].tolist(), abs=1e-4)
        # k larger than the collection returns every other image.
        assert len(col.search(id=0, k=10 * n)) == n - 1
        # A reusable index (a snapshot, usable after close); HNSW is re-ranked exactly, so on a
        # set this small it gives the exact answers.
        vi = col.vector_index(index="exact")
        assert (len(vi), vi.dim, vi.kind) == (n, emb.shape[1], "exact")
        hn = col.vector_index(index="hnsw")
        assert hn.kind == "hnsw"
    for i in range(n):
        assert vi.search(id=i, k=3)["id"].tolist() == hn.search(id=i, k=3)["id"].tolist()


def test_search_bad_input(cnn_col):
    path, _ = cnn_col
    with irbis.Collection.open(path) as col:
        d = col.embeddings().shape[1]
        with pytest.raises(TypeError, match="query must be an image path .* or a 1-D vector, not int"):
            col.search(42)
        with pytest.raises(TypeError, match="1-D numeric array"):
            col.search(np.zeros((2, d)))
        with pytest.raises(TypeError, match="k must be an int, not str"):
            col.search(id=0, k="3")
        with pytest.raises(TypeError, match="id must be an int"):
            col.search(id="0")
        with pytest.raises(irbis.UsageError, match="give exactly one of"):
            col.search()
        with pytest.raises(irbis.UsageError, match="give exactly one of"):
            col.search("a.jpg", id=1)
        with pytest.raises(irbis.UsageError, match="no live image with id 100000"):
            col.search(id=100000)
        with pytest.raises(irbis.UsageError, match="is not an indexed image"):
            col.search(path="/nope.jpg")
        with pytest.raises(irbis.UsageError, match=f"must have {d} values"):
            col.search(np.ones(5))
        with pytest.raises(irbis.UsageError, match="not all zeros"):
            col.search(np.zeros(d))
        with pytest.raises(irbis.IoError, match="nope.jpg"):
            col.search("/nope.jpg")
        with pytest.raises(TypeError, match="top must be an int"):
            col.unique(top="3")
        with pytest.raises(ValueError, match="density_k must be in"):
            col.unique(density_k=0)
        with pytest.raises(irbis.UsageError, match="faiss"):
            col.unique(index="faiss")


def test_search_colors_matches_cli(hashes_col, cli):
    """Collection.search_colors: the CLI's `search --colors` rows (one serializer,
    color_search_json), its CSV columns, typed values, and the CLI's errors."""
    query = "#1f3a5f,#ffffff"
    want = json.loads(run_cli(cli, "search", hashes_col, "--colors", query, "-k", 6, "--format", "json").stdout)
    header = run_cli(cli, "search", hashes_col, "--colors", query, "-k", 6, "--format", "csv").stdout.splitlines()[0]
    with irbis.Collection.open(hashes_col) as col:
        t = col.search_colors(query, k=6)
        same = col.search_colors(["1f3a5f", "#FFFFFF"], k=6)
        with pytest.raises(irbis.UsageError, match="navy"):
            col.search_colors("navy")
        with pytest.raises(ValueError, match="k must be in"):
            col.search_colors(query, k=0)
        with pytest.raises(TypeError, match="colors must be a str"):
            col.search_colors(3)
    assert list(t.columns) == header.split(",") == ["rank", "match", "path", "palette", "id"]
    assert len(want["results"]) == len(t) == 6
    assert t["rank"].tolist() == list(range(1, 7)) and t["id"].dtype == np.int64
    m = t["match"].to_numpy()
    assert (np.diff(m) <= 0).all() and 0 <= m.min() and m.max() <= 1
    for row, w in zip(t.to_dict("records"), want["results"]):
        assert (row["path"], row["id"], row["palette"]) == (w["path"], w["id"], w["palette"])
        assert row["match"] == pytest.approx(w["match"], abs=1e-12)
        assert abs(sum(c["weight"] for c in row["palette"]) - 1) < 1e-4
    assert same.equals(t)


def test_unique_matches_cli(cnn_col, cli):
    path, _ = cnn_col
    want = json.loads(run_cli(cli, "unique", path, "--top", 0, "--format", "json").stdout)
    with irbis.Collection.open(path) as col:
        res = col.unique(top=0)
        top3, summary3 = col.unique(top=3, density_k=2)
    t = res.table
    assert list(t.columns) == ["rank", "id", "path", "distance", "neighbor_id", "neighbor_path", "density",
                               "outlier", "exact"]
    assert res.images == want["images"] == len(t) and res.top_exact == want["top_exact"]
    # Ranked by distance to the nearest non-copy, descending (NaN = no such neighbour, last).
    d = t["distance"].to_numpy()
    assert (np.diff(d[~np.isnan(d)]) <= 0).all() and not np.isnan(d[0])
    want_rows = [{"rank": r["rank"], "path": r["path"], "id": r["id"], "exact": r["exact"]} for r in want["items"]]
    assert t[["rank", "path", "id", "exact"]].to_dict("records") == want_rows
    for row, w in zip(t.to_dict("records"), want["items"]):
        if w["distance"] is None:
            assert np.isnan(row["distance"]) and row["neighbor_path"] is None
            continue
        assert row["distance"] == pytest.approx(w["distance"], abs=1e-9)
        assert row["density"] == pytest.approx(w["density"], abs=1e-9)
        assert row["neighbor_path"] == w["neighbor"]["path"] and row["neighbor_id"] == w["neighbor"]["id"]
        assert row["outlier"] == w["outlier"]
    for key, value in want["summary"].items():
        assert res.summary[key] == pytest.approx(value, abs=1e-9), key
    s = res.summary
    assert s["min"] <= s["lower_whisker"] <= s["q1"] <= s["median"] <= s["q3"] <= s["upper_whisker"] <= s["max"]
    assert s["upper_fence"] == pytest.approx(s["q3"] + 1.5 * (s["q3"] - s["q1"]))
    assert t["outlier"].sum() == s["high_outliers"]
    # top cuts the same ranking; the summary is over every image either way.
    assert top3["path"].tolist() == t["path"][:3].tolist()
    assert summary3["n"] == s["n"] and summary3["median"] == pytest.approx(s["median"])


def test_dupes_cnn_matches_cli(cnn_col, cli):
    path, _ = cnn_col
    want = cli_csv(run_cli(cli, "dupes", path, "--cnn", "--format", "csv").stdout)
    with irbis.Collection.open(path) as col:
        df = col.dupes(cnn=True)
        hashes_only = col.dupes()
        strict = col.dupes(cnn=True, min_similarity=0.999)
        with pytest.raises(irbis.UsageError, match="pass cnn=True"):
            col.dupes(min_similarity=0.9)
        with pytest.raises(ValueError, match="min_similarity must be in"):
            col.dupes(cnn=True, min_similarity=2)
        with pytest.raises(TypeError, match="cnn must be a bool"):
            col.dupes(cnn="yes")
    assert list(df.columns) == ["group", "path", "role", "distance", "kind", "width", "height", "size", "similarity",
                                "variant_distance", "variant", "dhash_distance", "inliers", "id"]
    assert "similarity" not in hashes_only.columns
    got = [dupes_row_as_csv(row) for row in df.to_dict("records")]
    assert got == want
    # The flips and rotations of cnn_pics are found by their embeddings, not by pHash.
    assert len(set(df["path"])) > len(set(hashes_only["path"]))
    # Duplicates matched by CNN similarity alone meet the sure threshold; band pairs (0.80-0.92)
    # need geometric verification (kind "verified"), hash matches carry the similarity as evidence.
    cnn_linked = df[(df.role == "duplicate") & (df.kind == "cnn")]
    sure = json.loads(run_cli(cli, "dupes", path, "--cnn", "--json").stdout)["cnn_threshold"]
    assert (cnn_linked["similarity"] >= sure - 1e-9).all()
    verified = df[(df.role == "duplicate") & (df.kind == "verified")]
    assert len(cnn_linked) + len(verified) > 0  # the embeddings (and their band) found some
    assert (verified["inliers"] >= 12).all() and df[df.kind != "verified"]["inliers"].isna().all()
    # min_similarity is passed through: the same rows as the CLI's --cnn-threshold.
    want_strict = cli_csv(run_cli(cli, "dupes", path, "--cnn", "--cnn-threshold", "0.999", "--format", "csv").stdout)
    assert [dupes_row_as_csv(row) for row in strict.to_dict("records")] == want_strict


# ---------------------------------------------------------------------------------- classifiers
def same(a, b, tol=1e-9):
    """Nested JSON values equal, numbers within tol."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k], tol) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, abs=tol)
    return a == b


@pytest.fixture(scope="module")
def trained(classes_col, tmp_path_factory):
    """A classifier trained from Python on the two generated classes, saved to a file."""
    with irbis.Collection.open(classes_col) as col:
        clf = col.train(labels="folders", test_fraction=0.3, seed=1)
    f = tmp_path_factory.mktemp("clf") / "py.clf"
    clf.save(f)
    return clf, f


def test_train_report_and_cli_agree(trained, classes_col, cli, tmp_path):
    clf, _ = trained
    assert isinstance(clf, irbis.Classifier) and clf.classes == ["checker", "plain"]
    assert clf.embedding_model == irbis.DEFAULT_MODEL and clf.input == clf.report["input"]
    rep = clf.report
    assert rep["test"]["accuracy"] >= 0.9 and rep["train"]["accuracy"] >= 0.95
    assert rep["train_images"] + rep["test_images"] == 28 and rep["test_images"] > 0
    # Refit by default: the saved model saw every labelled image; the input was cross-validated.
    assert (rep["saved_model"], rep["saved_model_images"], rep["input_chosen_by"]) == ("refit", 28, "cross-validation")
    assert [c["input"] for c in rep["inputs_cv"]] == ["full", "blocks", "blocks-sqrt"] and 0 <= rep["test"]["ece"] <= 1
    conf = clf.confusion()
    assert list(conf.index) == list(conf.columns) == ["checker", "plain"]
    assert conf.to_numpy().sum() == rep["test_images"]
    assert np.trace(conf.to_numpy()) / rep["test_images"] == pytest.approx(rep["test"]["accuracy"])
    pc = clf.per_class()
    assert pc["class"].tolist() == ["checker", "plain"] and pc["support"].sum() == rep["test_images"]
    assert ((pc["precision"] >= 0) & (pc["precision"] <= 1) & (pc["f1"] <= 1)).all()
    # The CLI trains the same classifier from the same embeddings, split and seed.
    out = json.loads(run_cli(cli, "train", classes_col, "--labels", "folders", "--out", tmp_path / "cli.clf",
                             "--test-fraction", 0.3, "--seed", 1, "--json").stdout)
    for key in ("l2", "cv_accuracy", "train", "test", "train_images", "test_images", "seed", "iterations", "input",
                "inputs_cv", "saved_model", "saved_model_images"):
        assert same(rep[key], out[key]), (key, rep[key], out[key])
    # Other label sources: a CSV and a mapping with the same labels give the same classifier.
    with irbis.Collection.open(classes_col) as col:
        lab = col.labels("folders")
        lab[["path", "label"]].to_csv(tmp_path / "labels.csv", index=False)
        by_csv = col.train(tmp_path / "labels.csv", seed=1)
        by_map = col.train(dict(zip(lab["path"], lab["label"])), seed=1)
    for other in (by_csv, by_map):
        assert same(other.report["test"], rep["test"]) and other.report["l2"] == rep["l2"]


def test_train_suspects_and_bad_labels(classes_col):
    with irbis.Collection.open(classes_col) as col:
        lab = col.labels("folders")
        mapping = dict(zip(lab["path"], lab["label"]))
        wrong = sorted(p for p, l in mapping.items() if l == "checker")[0]
        mapping[wrong] = "plain"  # a checkerboard filed under plain
        clf = col.train(mapping, suspects=True, suspect_confidence=0.6, seed=1)
        assert list(clf.suspects.columns) == ["path", "label", "predicted", "confidence", "p_label"]
        assert wrong in clf.suspects["path"].tolist()
        row = clf.suspects[clf.suspects["path"] == wrong].iloc[0]
        assert (row["label"], row["predicted"]) == ("plain", "checker") and row["confidence"] >= 0.6
        assert len(clf.suspects) <= 3
        assert col.train(seed=1).suspects is None
        with pytest.raises(irbis.UsageError, match="not in the collection: /nope.png"):
            col.train({"/nope.png": "a", wrong: "b"})
        with pytest.raises(TypeError, match="labels must be 'folders', a CSV path or a mapping"):
            col.train(42)
        with pytest.raises(TypeError, match="labels must map paths to str labels"):
            col.train({wrong: 1})
        with pytest.raises(TypeError, match="test_fraction must be a number"):
            col.train(test_fraction="0.3")
        with pytest.raises(ValueError, match="test_fraction must be in"):
            col.train(test_fraction=0.95)
        with pytest.raises(irbis.UsageError, match="cannot read labels file"):
            col.train("/nope.csv")
        with pytest.raises(irbis.UsageError, match="full|blocks"):
            col.train(input="pixels")


def test_predict_matches_cli(trained, classes_dir, classes_col, cli):
    clf, f = trained
    new = [classes_dir / "new" / "c.png", classes_dir / "new" / "p.png"]
    df = clf.predict(new)
    assert list(df.columns) == ["path", "label", "probability", "p_checker", "p_plain", "error"]
    assert df["label"].tolist() == ["checker", "plain"] and df["error"].isna().all()
    np.testing.assert_allclose(df["p_checker"] + df["p_plain"], 1, atol=1e-5)
    assert (df["probability"] == df[["p_checker", "p_plain"]].max(axis=1)).all()
    want = cli_csv(run_cli(cli, "predict", f, *new, "--format", "csv").stdout)
    assert [r["label"] for r in want] == df["label"].tolist()
    for r, (_, g) in zip(want, df.iterrows()):
        assert float(r["p_checker"]) == pytest.approx(g["p_checker"], abs=1e-4)
    # A loaded file predicts the same; a collection is predicted from its stored embeddings.
    loaded = irbis.Classifier.load(f)
    assert loaded.classes == clf.classes and loaded.report == clf.report
    np.testing.assert_allclose(loaded.predict(new)["p_plain"], df["p_plain"], atol=1e-6)
    with irbis.Collection.open(classes_col) as col:
        pc = clf.predict(col)
    want = {r["path"]: r for r in cli_csv(run_cli(cli, "predict", f, "--collection", classes_col, "--format", "csv").stdout)}
    assert list(pc.columns) == ["path", "label", "probability", "p_checker", "p_plain", "id"] and len(pc) == len(want) == 28
    for _, r in pc.iterrows():
        assert r["label"] == want[r["path"]]["label"]
        assert r["p_plain"] == pytest.approx(float(want[r["path"]]["p_plain"]), abs=1e-4)
    assert (pc["label"] == [os.path.basename(os.path.dirname(p)) for p in pc["path"]]).mean() >= 0.9


def test_predict_bad_input(trained, classes_dir, hashes_col, tmp_path):
    clf, _ = trained
    (tmp_path / "bad.png").write_bytes(b"not a png")
    df = clf.predict([classes_dir / "new" / "c.png", tmp_path / "missing.png", tmp_path / "bad.png"])
    assert df["label"].tolist()[0] == "checker" and df["label"][1:].isna().all()
    assert "missing.png" in df["error"][1] and "bad.png" in df["error"][2]
    assert np.isnan(df["probability"][1]) and np.isnan(df["p_plain"][2])
    with pytest.raises(irbis.IoError, match="missing.png"):
        clf.predict(tmp_path / "missing.png", errors="raise")
    with pytest.raises(TypeError, match="items must be a path or a list of paths, not int"):
        clf.predict(42)
    with pytest.raises(TypeError, match="path must be a path"):
        irbis.Classifier.load(42)
    with pytest.raises(irbis.IoError, match="cannot open the classifier file"):
        irbis.Classifier.load(tmp_path / "none.clf")
    with pytest.raises(irbis.ModelError):
        irbis.Classifier.load(tmp_path / "bad.png")
    with irbis.Collection.open(hashes_col) as col, pytest.raises(irbis.UsageError, match="needs embeddings of model"):
        clf.predict(col)
    with pytest.raises(TypeError, match="use Collection.train"):
        irbis.Classifier("x")


def test_predict_files_equals_cli_predict(trained, classes_dir, cli, tmp_path):
    """Python's file prediction is `irbis predict FILES`'s path: same rows in the same order, the
    same probabilities, and a missing file's row carries the CLI's error text."""
    _, f = trained
    clf = irbis.Classifier.load(f)
    files = [classes_dir / "new" / "c.png", tmp_path / "missing.png", classes_dir / "new" / "p.png"]
    df = clf.predict(files)
    r = run_cli(cli, "predict", f, *files, "--format", "csv")
    assert r.returncode == 2 and "missing.png" in r.stderr
    want = cli_csv(r.stdout)
    assert [w["path"] for w in want] == [str(p) for p in files] == df["path"].tolist()
    assert [w["probability"].startswith("error: ") for w in want] == [False, True, False]
    for w, (_, g) in zip(want, df.iterrows()):
        if w["probability"].startswith("error: "):  # the CSV's error row
            assert g["error"] == w["probability"][len("error: "):] and "missing.png" in g["error"]
            assert g["label"] is None and np.isnan(g["p_plain"])
            continue
        assert g["error"] is None and g["label"] == w["label"]
        for name in clf.classes:
            assert g[f"p_{name}"] == pytest.approx(float(w[f"p_{name}"]), abs=1e-4)


def test_two_model_classifier_as_the_cli(classes_col, classes_dir, cli, tmp_path):
    """A collection indexed with two models: train's default gives one head per model (as `irbis
    train`), the file and the CLI read the same classifier, predictions equal the CLI's."""
    col_path = tmp_path / "two.irbis"
    shutil.copytree(classes_col, col_path)
    with irbis.Collection.open(col_path) as col:
        col.index(classes_dir / "pics", model="inception_v3")
        clf = col.train(labels="folders", seed=1)
        one = col.train(labels="folders", seed=1, model=irbis.DEFAULT_MODEL)
    assert clf.embedding_model == f"{irbis.DEFAULT_MODEL},inception_v3" and one.embedding_model == irbis.DEFAULT_MODEL
    assert [h["embedding_model"] for h in clf.report["heads"]] == [irbis.DEFAULT_MODEL, "inception_v3"]
    assert "heads" not in one.report
    want = json.loads(run_cli(cli, "train", col_path, "--labels", "folders", "--seed", "1", "--out",
                              tmp_path / "cli.clf", "--json").stdout)
    assert want["embedding_model"] == clf.embedding_model and want["input"] == clf.input
    assert want["test"]["accuracy"] == clf.report["test"]["accuracy"]
    f = tmp_path / "py.clf"
    clf.save(f)
    new = [classes_dir / "new" / "c.png", classes_dir / "new" / "p.png"]
    df = clf.predict(new)
    rows = json.loads(run_cli(cli, "predict", f, *new, "--json").stdout)
    assert df["label"].tolist() == [r["label"] for r in rows] == ["checker", "plain"]
    for r, (_, g) in zip(rows, df.iterrows()):
        for name in clf.classes:
            assert g[f"p_{name}"] == pytest.approx(r["probabilities"][name], abs=1e-5)


def test_explain_same_seed_same_weights(trained, classes_dir, cli, tmp_path):
    clf, f = trained
    img = classes_dir / "new" / "c.png"
    kw = dict(samples=100, superpixels=30, seed=3)
    a = clf.explain(img, out=tmp_path / "lime.png", **kw)
    b = clf.explain(img, **kw)
    c = clf.explain(img, samples=100, superpixels=30, seed=4)
    assert isinstance(a, irbis.Explanation) and a.label == "checker"
    assert a.probability == pytest.approx(a.probabilities["checker"]) and a.probability > 0.5
    sp = a.superpixels
    assert list(sp.columns) == ["id", "weight", "pixels", "x", "y", "width", "height"]
    np.testing.assert_array_equal(a.weights(), b.weights())  # deterministic for a seed
    assert not np.array_equal(a.weights(), c.weights())
    # The pictures: the working image, its superpixels, the overlay (also written to `out`).
    h, w = a.image.shape[:2]
    assert a.image.dtype == np.uint8 and a.overlay.shape == a.image.shape == (h, w, 3)
    assert a.segments.shape == (h, w) and a.segments.max() + 1 == len(sp)
    assert sp["pixels"].sum() == h * w and np.bincount(a.segments.ravel()).tolist() == sp["pixels"].tolist()
    import cv2

    written = cv2.imread(str(tmp_path / "lime.png"))
    np.testing.assert_array_equal(written[..., ::-1], a.overlay)
    # The most important superpixel is in the centre, where the classes differ.
    top = sp.sort_values("weight", ascending=False).iloc[0]
    cx, cy = top["x"] + top["width"] / 2, top["y"] + top["height"] / 2
    assert 35 <= cx <= 125 and 35 <= cy <= 125, top
    # The CLI computes the same weights for the same seed.
    run_cli(cli, "explain", f, img, "--samples", 100, "--superpixels", 30, "--seed", 3, "--weights", tmp_path / "w.json")
    want = json.load(open(tmp_path / "w.json"))
    assert [s["id"] for s in want["superpixels"]] == sp["id"].tolist()
    np.testing.assert_allclose([s["weight"] for s in want["superpixels"]], a.weights(), atol=1e-5)
    assert a.report["class"] == want["class"] and a.report["seed"] == 3


def test_explain_bad_input_and_gil(trained, classes_dir, tmp_path):
    clf, _ = trained
    img = classes_dir / "new" / "p.png"
    with pytest.raises(TypeError, match="path must be a path"):
        clf.explain(42)
    with pytest.raises(TypeError, match="samples must be an int"):
        clf.explain(img, samples=1.5)
    with pytest.raises(ValueError, match="samples must be in 10..1000000"):
        clf.explain(img, samples=5)
    with pytest.raises(irbis.UsageError, match="unknown class 'dog'"):
        clf.explain(img, cls="dog")
    with pytest.raises(irbis.UsageError, match="must be .png or .jpg"):
        clf.explain(img, out=tmp_path / "x.gif")
    with pytest.raises(irbis.IoError, match="nope.png"):
        clf.explain(tmp_path / "nope.png")
    # Explaining another class than the predicted one; the GIL is free meanwhile.
    ticks = 0
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", clf.explain(img, cls="checker", samples=60, superpixels=20)))
    t0 = time.monotonic()
    t.start()
    while t.is_alive():
        ticks += 1
        time.sleep(0.001)
    t.join()
    elapsed = time.monotonic() - t0
    assert box["r"].label == "checker" and box["r"].probability < 0.5
    assert ticks > 20 * elapsed, (ticks, elapsed)


# ---------------------------------------------------------------------------------- inference engine
def test_inference_choice_and_collection_precision(tmp_path):
    photos = ["/usr/share/doc/opencv-doc/examples/data/aloeL.jpg", "/usr/share/doc/opencv-doc/examples/data/baboon.jpg"]
    before = irbis.inference()
    assert before["auto_precision"] in ("fp32", "bf16", "int8") and before["isa"]
    irbis.set_inference("onednn", "fp32")
    assert irbis.inference()["engine"] == "onednn" and irbis.inference()["precision"] == "fp32"
    with pytest.raises(irbis.UsageError, match="unknown inference engine"):
        irbis.set_inference("tensorrt")
    irbis.set_inference(before["engine"], before["precision"])
    with irbis.Collection.create(tmp_path / "c.irbis") as col:
        assert col.index(photos[:1], precision="fp32").ok == 1
        assert col._c.meta("model.mobilenet_v2_mid.inference") == "onednn/fp32"
        # the per-run choice does not stick
        assert irbis.inference()["precision"] == before["precision"]
        # OpenCV DNN fp32 is interchangeable with oneDNN fp32; int8 is not (int8, not bf16: every
        # CPU oneDNN runs on has int8 convolutions, AVX2-only ones have no bf16)
        assert col.index(photos, engine="opencv").ok == 1
        with pytest.raises(irbis.ModelError, match="onednn/fp32"):
            col.index(photos + ["/usr/share/doc/opencv-doc/examples/data/fruits.jpg"], precision="int8")
