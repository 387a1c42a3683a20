"""irbis: answers from image collections, natively and fast.

    import irbis
    col = irbis.Collection.open("pics.irbis")          # or irbis.Collection.create(path, model=...)
    col.index(["/data/photos"], progress=True)
    emb = col.embeddings()                              # numpy (n, d) float32, no copy
    df = col.dupes()                                    # DataFrame: group, path, role, distance, ...
    res = col.cluster(auto=True)                        # res.items: path, cluster, x, y, ...

Everything is computed by the C++ library (module ``irbis._irbis``, pybind11); this package only
checks arguments, turns columns into pandas DataFrames (when pandas is installed; otherwise a
dict of columns) and draws progress bars. Long C++ calls release the GIL. See docs/python.md.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from . import _build_config

# The model registry: $IRBIS_MODEL_DIR, else the source tree this module was built from.
if "IRBIS_MODEL_DIR" not in os.environ and os.path.isdir(_build_config.MODEL_DIR):
    os.environ["IRBIS_MODEL_DIR"] = _build_config.MODEL_DIR

from . import _irbis  # noqa: E402
from ._irbis import (  # noqa: E402,F401
    DEFAULT_MODEL,
    DecodeError,
    Error,
    IoError,
    ModelError,
    StoreError,
    UsageError,
)

__version__ = _build_config.VERSION
__all__ = [
    "Collection", "IndexReport", "ClusterResult", "MergeReport", "merge_collections", "list_models",
    "model_dir", "find_near_pairs", "cluster_array", "DEFAULT_MODEL",
    "Error", "UsageError", "IoError", "DecodeError", "StoreError", "ModelError",
]

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

# Meta keys Collection.create() records so that index() knows what to compute by default.
_META_MODEL = "python.default_model"
_META_FEATURES = "python.default_features"
_KNOWN_FEATURES = ("hashes", "cnn")


# ------------------------------------------------------------------------------------- helpers
def _typename(x: Any) -> str:
    return type(x).__name__


def _path(x: Any, what: str) -> bytes:
    """A path argument as the raw bytes the C++ side takes (any file name survives)."""
    if isinstance(x, (str, bytes, os.PathLike)):
        p = os.fspath(x)
        return os.fsencode(p)
    raise TypeError(f"{what} must be a path (str, bytes or os.PathLike), not {_typename(x)}")


def _paths(x: Any, what: str) -> list[bytes]:
    """One path or an iterable of paths."""
    if isinstance(x, (str, bytes, os.PathLike)):
        return [_path(x, what)]
    try:
        items = list(x)
    except TypeError:
        raise TypeError(f"{what} must be a path or a list of paths, not {_typename(x)}") from None
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, (str, bytes, os.PathLike)):
            raise TypeError(f"{what}[{i}] must be a path (str, bytes or os.PathLike), not {_typename(item)}")
        out.append(_path(item, what))
    return out


def _int(x: Any, what: str, lo: Optional[int] = None, hi: Optional[int] = None) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        try:
            import numpy as np

            if isinstance(x, np.integer):
                x = int(x)
            else:
                raise TypeError
        except TypeError:
            raise TypeError(f"{what} must be an int, not {_typename(x)}") from None
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{what} must be in {rng}, not {x}")
    return x


def _str(x: Any, what: str) -> str:
    if not isinstance(x, str):
        raise TypeError(f"{what} must be a str, not {_typename(x)}")
    return x


def _table(columns: dict) -> Any:
    """A pandas DataFrame when pandas is installed, else the dict of columns itself."""
    try:
        import pandas as pd
    except ImportError:  # pandas is optional
        return columns
    return pd.DataFrame(columns)


def _progress_callback(progress: Any, label: str) -> Optional[Callable[[int, int], None]]:
    """progress=True: tqdm when installed, else a one-line counter on stderr; a callable is
    called as progress(done, total); False/None: nothing."""
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    if progress is not True:
        raise TypeError(f"progress must be a bool or a callable(done, total), not {_typename(progress)}")
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        bar = tqdm(desc=label, unit="img")

        def cb(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

        return cb

    def cb_plain(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{label}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    return cb_plain


# ------------------------------------------------------------------------------------- results
@dataclass
class IndexReport:
    """What one index run did (irbis::IndexReport). ``problems`` lists unreadable folders and
    missing roots as dicts {path, reason} (a plain list: indexing never imports pandas); failed
    files are catalog rows, see Collection.failures(). ``also_computed`` names the features
    computed although not asked for, because the collection has them ("hashes", "cnn:<model>")."""

    scanned: int = 0
    unchanged: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    not_images: int = 0
    ok: int = 0
    failed: int = 0
    backfilled: int = 0
    also_computed: Any = None
    seconds: float = 0.0
    problems: Any = None

    @classmethod
    def _from(cls, d: dict) -> "IndexReport":
        d = dict(d)
        p = d["problems"]
        d["problems"] = [{"path": a, "reason": b} for a, b in zip(p["path"], p["reason"])]
        return cls(**d)

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "problems"}
        d["problems"] = list(self.problems)
        return d


@dataclass
class ClusterResult:
    """irbis::ClusterReport. ``items`` has one row per image (path, id, cluster, x, y,
    distance_to_centroid, the columns of `irbis cluster --out`); ``k_table`` one row per k tried;
    ``clusters`` one row per cluster (size, medoid, mean distance); ``report`` is the JSON of
    `irbis cluster --format json` as a dict."""

    k: int
    auto: bool
    elbow_k: int
    best_silhouette: float
    null_silhouette: float
    clear_structure: bool
    inertia: float
    map_method: str
    items: Any
    k_table: Any
    clusters: Any
    centroids: Any
    scores: Optional[dict]
    classes: list
    report: dict
    k_table_text: str = ""
    features: str = ""

    @classmethod
    def _from(cls, d: dict) -> "ClusterResult":
        import json

        d = dict(d)
        d["report"] = json.loads(d.pop("report_json"))
        for key in ("items", "k_table", "clusters"):
            d[key] = _table(d[key])
        d.setdefault("features", "")
        return cls(**d)

    def __str__(self) -> str:
        return self.k_table_text


@dataclass
class MergeReport:
    """What merge_collections appended (irbis::MergeReport)."""

    partials: int
    records: int
    ok: int
    failed: int
    problems: Any = field(default=None)


# ------------------------------------------------------------------------------------- collection
class Collection:
    """A collection directory (e.g. ``pics.irbis/``): catalog + feature files, see docs/storage.md.

    Open one with :meth:`open` or :meth:`create`. The first writing call (index) takes the
    collection's writer lock until :meth:`close` (or the end of a ``with`` block); other readers
    (the CLI, other notebooks) may read meanwhile. Methods of a closed collection raise ValueError.
    """

    __slots__ = ("_c",)

    def __init__(self, handle: "_irbis._Collection"):
        if not isinstance(handle, _irbis._Collection):
            raise TypeError("use irbis.Collection.open(path) or irbis.Collection.create(path)")
        self._c = handle

    # -- life cycle
    @classmethod
    def open(cls, path: PathLike) -> "Collection":
        """Opens an existing collection; StoreError if ``path`` is not one."""
        return cls(_irbis._Collection.open(_path(path, "path")))

    @classmethod
    def create(cls, path: PathLike, model: Optional[str] = DEFAULT_MODEL,
               features: Sequence[str] = ("hashes", "cnn"), exist_ok: bool = False) -> "Collection":
        """Creates an empty collection. ``model``/``features`` become the defaults of
        :meth:`index` (``model=None`` or features without "cnn": no CNN embeddings). StoreError
        if a collection already exists there and not ``exist_ok``."""
        p = _path(path, "path")
        if model is not None:
            _str(model, "model")
        feats = _features(features)
        if os.path.exists(os.path.join(p, b"catalog.sqlite")) and not exist_ok:
            raise StoreError(f"{os.fsdecode(p)}: a collection already exists (pass exist_ok=True or use Collection.open)")
        col = cls(_irbis._Collection.open_or_create(p))
        if model is None:
            feats = [f for f in feats if f != "cnn"]
        col._c.set_meta(_META_MODEL, model or "")
        col._c.set_meta(_META_FEATURES, ",".join(feats))
        return col

    def close(self) -> None:
        """Releases the catalog and the writer lock. Idempotent."""
        self._c.close()

    @property
    def closed(self) -> bool:
        return self._c.closed

    @property
    def path(self) -> str:
        return self._c.path

    def __enter__(self) -> "Collection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<irbis.Collection {self.path!r} ({state})>"

    # -- indexing
    def index(self, roots: Union[PathLike, Iterable[PathLike]], *, features: Optional[Sequence[str]] = None,
              model: Optional[str] = None, max_pixels: Optional[int] = None, threads: int = 0,
              progress: Union[bool, Callable[[int, int], None], None] = False,
              commit_every: Optional[int] = None) -> IndexReport:
        """Scans ``roots`` (folders or files) and indexes new and changed images, marks removed
        ones (irbis::index_collection, as `irbis index`). Resumable: an interrupted run
        (Ctrl-C, a killed process) loses nothing committed; run it again to finish.

        features: "hashes" and/or "cnn" (default: what create() recorded, else both);
        model: the CNN model (default: create()'s, else DEFAULT_MODEL);
        progress: True (tqdm or a counter on stderr) or a callable(done, total), called at most
        every 0.1 s and at the end (an exception it raises stops the run; Ctrl-C works too);
        commit_every: images per catalog transaction (default 256; a run also commits every 2 s)."""
        rs = _paths(roots, "roots")
        feats = _features(features) if features is not None else self._default_features()
        if model is None:
            model = self._c.meta(_META_MODEL) or DEFAULT_MODEL
        _str(model, "model")
        threads = _int(threads, "threads", 0)
        kw = {}
        if max_pixels is not None:
            kw["max_pixels"] = _int(max_pixels, "max_pixels", 1)
        if commit_every is not None:
            kw["commit_every"] = _int(commit_every, "commit_every", 1)
        cb = _progress_callback(progress, "indexing")
        d = self._c.index(rs, hashes="hashes" in feats, model=model if "cnn" in feats else "",
                          threads=threads, progress=cb, **kw)
        return IndexReport._from(d)

    def _default_features(self) -> list[str]:
        stored = self._c.meta(_META_FEATURES)
        return stored.split(",") if stored else ["hashes", "cnn"]

    # -- reading
    def records(self, status: Optional[str] = None) -> Any:
        """Catalog rows in id order (id, path, size, mtime_ns, content_hash, format, width,
        height, status, reason); ``status`` filters: ok, failed, retired, removed."""
        if status is not None and status not in ("ok", "failed", "retired", "removed"):
            if not isinstance(status, str):
                raise TypeError(f"status must be a str or None, not {_typename(status)}")
            raise ValueError(f"unknown status '{status}' (expected ok, failed, retired or removed)")
        return _table(self._c.records(status or ""))

    def __len__(self) -> int:
        return int(self._c.summary()["images"])

    def info(self) -> dict:
        """What `irbis info --json --failures` shows: counts, formats, bytes, features, failures
        and scan problems (as tables)."""
        d = self._c.summary()
        d["failures"] = _table({"path": d["failures"]["path"], "reason": d["failures"]["reason"]})
        d["scan_problems"] = _table(d["scan_problems"])
        return d

    def failures(self) -> Any:
        """Every file that failed and every folder that could not be read, with the reason (as
        `irbis info --failures`)."""
        d = self._c.summary()
        f, p = d["failures"], d["scan_problems"]
        return _table({"path": list(f["path"]) + list(p["path"]), "reason": list(f["reason"]) + list(p["reason"])})

    def feature(self, name: str) -> Any:
        """Raw committed rows of a feature file as a read-only numpy array (memory-mapped, no
        copy); row r is image id r. E.g. "hashes" (uint64 phash, dhash, ahash), "color"."""
        return self._c.feature(_str(name, "name"))

    def features(self) -> list:
        """The feature files: name, dtype, dim, committed rows."""
        return self._c.feature_specs()

    def embeddings(self, model: Optional[str] = None, view: str = "full", *, with_paths: bool = False) -> Any:
        """CNN embeddings of the live images as an (n, d) float32 array, rows in id order
        (irbis::load_embeddings; the array owns the C++ matrix, no copy). view: "full" (the
        model's descriptor), "semantic" (its last block) or "blocks". with_paths=True returns
        (array, paths)."""
        if model is None:
            model = self._c.meta(_META_MODEL) or DEFAULT_MODEL
        arr, _ids, paths = self._c.embeddings(_str(model, "model"), _str(view, "view"))
        return (arr, paths) if with_paths else arr

    def labels(self, spec: str = "folders") -> Any:
        """Class labels of the live images: "folders" (parent folder name) or a path,label CSV
        (irbis::load_labels). Columns id, path, label (None when unlabelled)."""
        cols, _classes = self._c.labels(_str(spec, "spec"))
        return _table(cols)

    # -- analyses
    def dupes(self, threshold: int = 8, *, single_linkage: bool = False, cnn: bool = False) -> Any:
        """Exact and near-duplicate groups, as `irbis dupes --format csv`: group, path, role
        (keep/duplicate), distance, kind (exact/near), width, height, size, id.
        threshold: largest pHash Hamming distance (of 64 bits) for a near duplicate."""
        threshold = _int(threshold, "threshold", 0, 64)
        if cnn:
            # TODO(search issue): CNN near duplicates need the vector search (not on main yet).
            raise NotImplementedError("dupes(cnn=True) lands with the search/unique issue")
        return _table(self._c.dupes(threshold, bool(single_linkage))["columns"])

    def cluster(self, k: Optional[int] = None, *, auto: bool = False, k_range: tuple = (2, 30),
                features: str = "cnn-semantic", model: Optional[str] = None, labels: Optional[str] = None,
                map: str = "tsne", restarts: int = 5, seed: int = 1) -> ClusterResult:
        """k-means clusters (fixed k or ``auto=True`` over ``k_range``), a 2-D map and scores
        against ``labels`` ("folders" or a CSV), as `irbis cluster` (irbis::analyze_clusters).
        features: cnn-semantic, cnn-full, color or hash; map: tsne, pca or none."""
        if k is None and not auto:
            raise UsageError("cluster: give k (a number of clusters) or auto=True")
        k = 0 if k is None else _int(k, "k", 1)
        if not (isinstance(k_range, (tuple, list)) and len(k_range) == 2):
            raise TypeError(f"k_range must be a (min, max) pair, not {k_range!r}")
        k_min, k_max = (_int(v, "k_range", 1) for v in k_range)
        if model is None:
            model = self._c.meta(_META_MODEL) or DEFAULT_MODEL
        d = self._c.cluster(k, bool(auto), k_min, k_max, _str(features, "features"), _str(model, "model"),
                            "" if labels is None else _str(labels, "labels"), _str(map, "map"),
                            _int(restarts, "restarts", 1), _int(seed, "seed", 0))
        return ClusterResult._from(d)

    # -- hooks for APIs that are not on main yet (one wrapper each when their C++ lands)
    def search(self, query: Any, k: int = 10, **kwargs: Any) -> Any:
        """Nearest images to a query image. Not available yet."""
        # TODO(search issue): bind irbis search (C++) in python/src/search.cpp and wrap it here.
        raise NotImplementedError("Collection.search lands with the search/unique issue")

    def unique(self, top: int = 20, **kwargs: Any) -> Any:
        """The most unique images. Not available yet."""
        # TODO(search issue): bind irbis unique (C++) and wrap it here.
        raise NotImplementedError("Collection.unique lands with the search/unique issue")

    def train(self, labels: str = "folders", **kwargs: Any) -> Any:
        """Trains a classifier on the embeddings. Not available yet."""
        # TODO(classifier issue): bind irbis classifiers (train/predict/explain) and wrap them here.
        raise NotImplementedError("Collection.train lands with the classifiers issue")


def _features(features: Any) -> list[str]:
    if isinstance(features, str):
        features = features.split(",")
    try:
        feats = [f for f in features if f]
    except TypeError:
        raise TypeError(f"features must be a list of str, not {_typename(features)}") from None
    for f in feats:
        if not isinstance(f, str):
            raise TypeError(f"features must be a list of str, not a list holding {_typename(f)}")
        if f not in _KNOWN_FEATURES:
            raise UsageError(f"unknown feature '{f}' in features (known: hashes, cnn)")
    return feats


# ------------------------------------------------------------------------------------- functions
def merge_collections(dest: Union[Collection, PathLike], partials: Iterable[PathLike],
                      commit_every: int = 1024) -> MergeReport:
    """Appends every partial collection's catalog rows and feature rows to ``dest`` in the
    order given (irbis::merge_collections); refuses partials with different models or feature
    files, and paths present twice. ``dest`` is a Collection or a path (created if missing)."""
    ps = _paths(partials, "partials")
    commit_every = _int(commit_every, "commit_every", 1)
    if isinstance(dest, Collection):
        d = _irbis.merge_collections(dest._c, ps, commit_every)
    else:
        with Collection(_irbis._Collection.open_or_create(_path(dest, "dest"))) as col:
            d = _irbis.merge_collections(col._c, ps, commit_every)
    d["problems"] = _table(d["problems"])
    return MergeReport(**d)


def list_models() -> list:
    """Installed models (cards in model_dir()): name, embedding_dim, architecture, source, ..."""
    return _irbis.list_models()


def model_dir() -> str:
    """The model registry in use: $IRBIS_MODEL_DIR, else <source tree>/models/onnx."""
    return _irbis.model_dir()


def find_near_pairs(hashes: Any, max_distance: int, threads: int = 0) -> Any:
    """Every pair (i < j) of 64-bit hashes within ``max_distance`` bits (multi-index hashing,
    irbis::find_near_pairs). hashes: 1-D uint64 array; returns an (m, 3) int64 array i, j, d."""
    import numpy as np

    if not hasattr(hashes, "__len__"):
        raise TypeError(f"hashes must be a 1-D uint64 array, not {_typename(hashes)}")
    a = np.asarray(hashes)
    if a.dtype.kind not in "ui":
        raise TypeError(f"hashes must be an unsigned integer array, not {a.dtype}")
    return _irbis.find_near_pairs(a.astype(np.uint64, copy=False), _int(max_distance, "max_distance", 0, 64),
                                  _int(threads, "threads", 0))


def cluster_array(x: Any, k: Optional[int] = None, *, auto: bool = False, k_range: tuple = (2, 30),
                  truth: Any = None, map: str = "pca", restarts: int = 5, seed: int = 1) -> ClusterResult:
    """irbis::analyze_clusters on any (n, d) float matrix (rows are named "0", "1", ...)."""
    import numpy as np

    a = np.asarray(x)
    if a.ndim != 2 or a.dtype.kind not in "fiu":
        raise TypeError(f"x must be a 2-D numeric array, not {a.dtype} with shape {a.shape}")
    if k is None and not auto:
        raise UsageError("cluster: give k (a number of clusters) or auto=True")
    k = 0 if k is None else _int(k, "k", 1)
    k_min, k_max = (_int(v, "k_range", 1) for v in k_range)
    t = None if truth is None else [int(v) for v in truth]
    d = _irbis.cluster_array(np.ascontiguousarray(a, dtype=np.float32), k, bool(auto), k_min, k_max, t,
                             _str(map, "map"), _int(restarts, "restarts", 1), _int(seed, "seed", 0))
    return ClusterResult._from(d)
