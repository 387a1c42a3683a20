"""Scale-out on Dask: index a file list on many workers, then merge into one collection.

    from dask.distributed import Client
    from irbis.dask import index_distributed
    client = Client("tcp://scheduler:8786")
    rep = index_distributed(client, ["/shared/photos"], "/shared/big.irbis", partitions=64)

How it works (docs/dask.md):
  1. The client scans the roots (irbis::scan) and sorts the file list by path bytes, so the
     partitions, and therefore the merged ids, are deterministic.
  2. The list is cut into ``partitions`` contiguous slices; each is one Dask task that runs the
     C++ pipeline (irbis::index_collection) on its files into a partial collection
     ``<work_dir>/part-NNNNN.irbis``. Only the file names go over the network, and each task
     returns a small report.
  3. A partial collection is resumable: when a worker dies mid-partition, Dask re-runs the task
     (on another worker, or on the restarted one) and the index continues where the last commit
     left it: the rows the dead process had not committed are cut, nothing is indexed twice.
  4. The client merges the partials in partition order (irbis::merge_collections) into
     ``<dest>.merging`` and renames it to ``dest`` when complete.

Workers must see the images and ``work_dir`` at the same paths as the client (a shared file
system); the merged ids follow partition order (= sorted path order), while a single-machine
`irbis index` orders ids by its scan order, so compare collections by path.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence, Union

from . import (
    DEFAULT_MODEL,
    Collection,
    MergeReport,
    StoreError,
    UsageError,
    _features,
    _int,
    _irbis,
    _path,
    _paths,
    _table,
    merge_collections,
)

_META_FILES = _irbis.META_DASK_FILES  # sha1 of a partial's file list

__all__ = ["index_distributed", "index_partition", "partition_files", "DistributedReport"]


@dataclass
class DistributedReport:
    """What index_distributed did. ok/failed count the merged collection's rows. ``partitions``
    has one row per partition: partition, files, and what its last attempt did (ok, failed,
    unchanged = rows an earlier attempt had committed, not_images, task_seconds, pid, part);
    ``problems`` the roots/folders the client could not scan; failed files are rows of the merged
    collection (Collection.failures())."""

    dest: str
    files: int
    ok: int
    failed: int
    not_images: int
    seconds: float
    merge: MergeReport
    partitions: Any = None
    problems: Any = None
    part_dirs: list = field(default_factory=list)


def partition_files(files: Sequence[str], partitions: int) -> list[list[str]]:
    """Contiguous, balanced slices of the (already sorted) file list; sizes differ by at most one."""
    n = len(files)
    partitions = max(1, min(partitions, n)) if n else 1
    base, extra = divmod(n, partitions)
    out, start = [], 0
    for i in range(partitions):
        size = base + (1 if i < extra else 0)
        out.append(list(files[start:start + size]))
        start += size
    return out


def index_partition(part_dir: str, files: Sequence[str], features: Sequence[str] = ("hashes", "cnn"),
                    model: str = DEFAULT_MODEL, threads: int = 0, max_pixels: Optional[int] = None,
                    commit_every: Optional[int] = None, engine: Optional[str] = None,
                    precision: Optional[str] = None) -> dict:
    """Indexes ``files`` into the partial collection ``part_dir`` (created, or resumed if it
    exists) and returns the run report as a dict. This is the task each Dask worker runs."""
    t0 = time.monotonic()
    pdir = _path(part_dir, "part_dir")
    # Which files this partial holds: a partial left by an earlier run over another file list is
    # started afresh; one from an earlier attempt of this same task is resumed.
    token = hashlib.sha1(b"\0".join(os.fsencode(f) for f in files)).hexdigest()
    col = Collection(_irbis._Collection.open_or_create(pdir))
    if col._c.meta(_META_FILES) != token:
        if col._c.meta(_META_FILES) or col._c.summary()["images"] or col._c.summary()["failed"]:
            col.close()
            shutil.rmtree(pdir)
            col = Collection(_irbis._Collection.open_or_create(pdir))
        col._c.set_meta(_META_FILES, token)
    try:
        rep = col.index(list(files), features=list(features), model=model, threads=threads,
                        max_pixels=max_pixels, commit_every=commit_every, engine=engine, precision=precision)
    finally:
        col.close()
    d = rep.as_dict()
    d["part"] = part_dir
    d["files"] = len(files)
    d["pid"] = os.getpid()
    d["task_seconds"] = time.monotonic() - t0
    return d


def index_distributed(client: Any, paths: Union[str, os.PathLike, Iterable[Union[str, os.PathLike]]],
                      dest: Union[str, os.PathLike], partitions: Optional[int] = None, *,
                      features: Sequence[str] = ("hashes", "cnn"), model: str = DEFAULT_MODEL,
                      work_dir: Optional[Union[str, os.PathLike]] = None, threads: int = 0,
                      max_pixels: Optional[int] = None, retries: int = 2, keep_partials: bool = False,
                      commit_every: Optional[int] = None, progress: bool = False, engine: Optional[str] = None,
                      precision: Optional[str] = None) -> DistributedReport:
    """Indexes ``paths`` (files and/or folders) into the new collection ``dest`` on the Dask
    cluster of ``client`` and returns a DistributedReport.

    partitions: number of tasks (default: 4 per worker thread, at least 1);
    work_dir: where the partial collections go (default ``<dest>.parts``; on storage every
    worker and the client share); threads: decode/inference threads per task (0 = every core of
    the worker's machine: with several worker processes on one machine give cores/processes);
    commit_every: images per catalog transaction in each partial (what a dead worker can lose);
    retries: extra attempts of a task that raised (a task whose worker died is re-run by the
    scheduler, up to distributed's ``allowed-failures``); keep_partials: leave work_dir in place;
    engine / precision: CNN inference on every worker (default: this process's
    irbis.set_inference choice, with "auto" precision resolved here, so that every partial uses
    the same one: merging refuses embeddings of different precisions).
    ``dest`` must not exist yet (StoreError): merging into an existing collection could repeat
    paths; index new folders into a new collection, or index with Collection.index."""
    t0 = time.monotonic()
    roots = [os.path.abspath(os.fsdecode(p)) for p in _paths(paths, "paths")]
    dest_s = os.path.abspath(os.fsdecode(_path(dest, "dest")))
    feats = _features(features)
    threads = _int(threads, "threads", 0)
    retries = _int(retries, "retries", 0)
    if not isinstance(model, str):
        raise TypeError(f"model must be a str, not {type(model).__name__}")
    if os.path.exists(dest_s):
        raise StoreError(f"{dest_s}: already exists; index_distributed builds a new collection")
    if not hasattr(client, "submit") or not hasattr(client, "gather"):
        raise TypeError(f"client must be a dask.distributed.Client, not {type(client).__name__}")

    choice = _irbis.inference()
    engine = choice["engine"] if engine is None else engine
    if precision is None:
        precision = choice["precision"]
        if precision == "auto" and "cnn" in feats:
            precision = _irbis.auto_precision(model)

    # 1. The file list, in path-byte order (scan sorts by bytes; several roots are merged here).
    files, _sizes, problems = _irbis.scan([os.fsencode(r) for r in roots])
    files = sorted(set(files), key=os.fsencode)
    if partitions is None:
        nthreads = sum(client.nthreads().values()) or 1
        partitions = max(1, min(len(files), 4 * nthreads))
    partitions = _int(partitions, "partitions", 1)
    parts = partition_files(files, partitions)

    # 2. One task per partition, each writing its own partial collection.
    work = os.path.abspath(os.fsdecode(_path(work_dir, "work_dir"))) if work_dir is not None else dest_s + ".parts"
    os.makedirs(work, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    part_dirs = [os.path.join(work, f"part-{i:05d}.irbis") for i in range(len(parts))]
    futures = [
        client.submit(index_partition, part_dirs[i], parts[i], feats, model, threads, max_pixels, commit_every,
                      engine, precision, key=f"irbis-index-{run}-{i:05d}", retries=retries, pure=False)
        for i in range(len(parts))
    ]
    if progress:
        try:
            from dask.distributed import progress as dask_progress

            dask_progress(futures)
        except ImportError:
            pass
    results = client.gather(futures)

    # 3. Merge in partition order into a temporary directory, then rename: dest appears only complete.
    tmp = dest_s + ".merging"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    with Collection(_irbis._Collection.open_or_create(os.fsencode(tmp))) as out:
        merged = merge_collections(out, part_dirs)
        # Folders the client could not scan are reported like `irbis index` does (info --failures).
        scan_problems = list(zip(problems["path"], problems["reason"]))
        if scan_problems:
            recorded = list(zip(merged.problems["path"], merged.problems["reason"])) if merged.problems is not None else []
            out._c.set_scan_problems([(os.fsencode(p), r) for p, r in recorded + scan_problems])
        out._c.set_meta(_irbis.META_DEFAULT_MODEL, model if "cnn" in feats else "")
        out._c.set_meta(_irbis.META_DEFAULT_FEATURES, ",".join(feats))
    os.rename(tmp, dest_s)
    if not keep_partials:
        shutil.rmtree(work, ignore_errors=True)

    cols = {k: [r[k] for r in results] for k in ("files", "ok", "failed", "unchanged", "not_images", "task_seconds", "pid", "part")}
    cols = {"partition": list(range(len(results))), **cols}
    return DistributedReport(
        dest=dest_s,
        files=len(files),
        ok=merged.ok,
        failed=merged.failed,
        not_images=sum(r["not_images"] for r in results),
        seconds=time.monotonic() - t0,
        merge=merged,
        partitions=_table(cols),
        problems=_table(problems),
        part_dirs=part_dirs if keep_partials else [],
    )
