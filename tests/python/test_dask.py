"""index_distributed on a LocalCluster of 2 worker processes: the merged collection has the same
rows, hashes and embeddings as a single-machine run of the same files (compared by path), also
when a worker is killed mid-partition by the deterministic fault switch."""
import json
import logging
import os
import shutil

import numpy as np
import pytest

import irbis
from conftest import run_cli

distributed = pytest.importorskip("distributed")
from irbis.dask import index_distributed, partition_files  # noqa: E402

FAULT_ROWS = 5


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    marker = tmp_path_factory.mktemp("fault") / "fired"
    # The first commit (in any worker) that would make a partial hold FAULT_ROWS rows aborts the
    # process; the marker file makes it happen once, so the retried task completes.
    env = {"IRBIS_FAULT_ABORT_AT_ROWS": str(FAULT_ROWS), "IRBIS_FAULT_ONCE_MARKER": str(marker),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env=env, silence_logs=logging.CRITICAL) as lc:
        with distributed.Client(lc) as c:
            c.marker = marker
            yield c


def by_path(col):
    recs = col.records()
    return recs.set_index("path"), recs


def test_partition_files():
    parts = partition_files([str(i) for i in range(10)], 4)
    assert [len(p) for p in parts] == [3, 3, 2, 2]
    assert sum(parts, []) == [str(i) for i in range(10)]
    assert partition_files([], 4) == [[]]


def test_distributed_equals_single_machine_with_a_killed_worker(client, pics, hashes_col, tmp_path):
    assert not client.marker.exists()
    dest = tmp_path / "big.irbis"
    rep = index_distributed(client, [pics], dest, partitions=4, features=["hashes"], threads=1,
                            commit_every=2, keep_partials=True)
    assert client.marker.exists(), "the fault switch should have killed one worker"
    parts = rep.partitions
    # Exactly one partition was resumed after the crash: its last attempt found the rows its
    # first attempt had committed (in pairs, below the fault row) and did only the rest. (Tasks
    # that had finished on the dead worker may be re-run too; they find all their rows done.)
    resumed = parts[(parts["unchanged"] > 0) & (parts["unchanged"] < parts["files"])]
    assert len(resumed) == 1, parts
    assert 1 <= resumed["unchanged"].iloc[0] < FAULT_ROWS, parts
    assert (parts["ok"] + parts["unchanged"] == parts["files"]).all(), parts
    assert rep.failed == 0 and rep.ok == rep.files

    with irbis.Collection.open(dest) as m, irbis.Collection.open(hashes_col) as s:
        mi, mr = by_path(m)
        si, sr = by_path(s)
        # The same rows: no duplicates, no holes.
        assert mr["id"].tolist() == list(range(len(mr)))
        assert sorted(mr["path"]) == sorted(sr["path"]) and mr["path"].is_unique
        assert mr["path"].tolist() == sorted(mr["path"], key=os.fsencode)  # ids follow partition order
        for col in ("size", "mtime_ns", "content_hash", "format", "width", "height", "status"):
            assert (mi[col] == si.loc[mi.index, col]).all(), col
        # The same feature rows, byte for byte.
        for feat in ("hashes", "color"):
            a, b = m.feature(feat), s.feature(feat)
            assert a.shape == b.shape
            np.testing.assert_array_equal(a[mi["id"].values], b[si.loc[mi.index, "id"].values])
        key = lambda df: sorted(tuple(sorted(g["path"])) for _, g in df.groupby("group"))
        assert key(m.dupes()) == key(s.dupes())
    assert not os.path.exists(str(dest) + ".merging")
    shutil.rmtree(str(dest) + ".parts")


def test_distributed_cnn_and_failures(client, cnn_pics, cli, tmp_path):
    d = tmp_path / "in"
    shutil.copytree(cnn_pics, d)
    (d / "empty.jpg").write_bytes(b"")
    (d / "truncated.jpg").write_bytes(next(iter(sorted(d.rglob("*.jpg")))).read_bytes()[:2000])
    (d / "notes.txt").write_text("not an image")
    missing = tmp_path / "missing"
    rep = index_distributed(client, [d, missing], tmp_path / "cnn.irbis", partitions=3, threads=1)
    assert rep.failed == 2 and rep.not_images == 1 and len(rep.problems) == 1

    # The CLI refuses a missing source (nothing created); the library records it as a scan problem.
    run_cli(cli, "index", d, "--into", tmp_path / "single.irbis")
    want = json.loads(run_cli(cli, "info", tmp_path / "single.irbis", "--failures", "--json").stdout)
    got = json.loads(run_cli(cli, "info", tmp_path / "cnn.irbis", "--failures", "--json").stdout)
    for k in ("images", "failed", "formats", "bytes", "features"):
        assert got[k] == want[k], k
    # Ids depend on the order the workers' parts were merged in; paths and reasons must agree.
    def path_reason(failures):
        return sorted((f["path"], f["reason"]) for f in failures)
    assert path_reason(got["failures"]) == path_reason(want["failures"])
    assert len(got["scan_problems"]) == 1 and got["scan_problems"][0]["path"].endswith("missing")
    assert want["scan_problems"] == []

    with irbis.Collection.open(tmp_path / "cnn.irbis") as m, irbis.Collection.open(tmp_path / "single.irbis") as s:
        em, pm = m.embeddings(with_paths=True)
        es, ps = s.embeddings(with_paths=True)
        assert sorted(pm) == sorted(ps)
        order = [ps.index(p) for p in pm]
        np.testing.assert_allclose(em, es[order], atol=1e-5)
        f = m.failures()
        assert sorted(f["reason"]) == sorted([x["reason"] for x in want["failures"]] + [got["scan_problems"][0]["reason"]])


def test_distributed_refuses_existing_dest(client, hashes_col, pics):
    with pytest.raises(irbis.StoreError, match="already exists"):
        index_distributed(client, [pics], hashes_col)
    with pytest.raises(TypeError, match="client must be"):
        index_distributed(object(), [pics], str(hashes_col) + "-new")
    with pytest.raises(TypeError, match="paths must be"):
        index_distributed(client, 42, str(hashes_col) + "-new")
