"""irbis: answers from image collections, natively and fast.

    import irbis
    col = irbis.Collection.open("pics.irbis")          # or irbis.Collection.create(path, model=...)
    col.index(["/data/photos"], progress=True)
    emb = col.embeddings()                              # numpy (n, d) float32, no copy
    df = col.dupes(cnn=True)                            # DataFrame: group, path, role, distance, ...
    col.match(["new/"])                                 # dict: per new image, the collection images it duplicates
    col.search("query.jpg", k=10)                       # DataFrame: rank, id, path, similarity, distance
    uniq = col.unique(top=20)                           # uniq.table, uniq.summary (quartiles, whiskers)
    res = col.cluster(auto=True)                        # res.items: path, cluster, x, y, ...
    clf = col.train(labels="folders")                   # irbis.Classifier; clf.report, clf.save(path)
    clf.predict(["a.jpg"]); clf.explain("a.jpg")        # labels + probabilities; LIME superpixels

Everything is computed by the C++ library (module ``irbis._irbis``, pybind11); this package only
checks arguments, turns columns into pandas DataFrames (when pandas is installed; otherwise a
dict of columns) and draws progress bars. Long C++ calls release the GIL. See docs/python.md.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence, Union

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
    NotAvailableError,
    StoreError,
    UsageError,
)

__version__ = _build_config.VERSION
__all__ = [
    "Collection", "IndexReport", "ClusterResult", "MergeReport", "VectorIndex", "UniqueResult", "Classifier",
    "Explanation", "merge_collections", "list_models", "model_dir",
    "set_inference", "inference", "find_near_pairs", "cluster_array", "DEFAULT_MODEL",
    "Error", "UsageError", "IoError", "DecodeError", "StoreError", "ModelError", "NotAvailableError",
]

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

# Meta keys Collection.create() records so that index() knows what to compute by default
# (defined once, in include/irbis/collection_layout.h).
_META_MODEL = _irbis.META_DEFAULT_MODEL
_META_FEATURES = _irbis.META_DEFAULT_FEATURES
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


def _float(x: Any, what: str, lo: Optional[float] = None, hi: Optional[float] = None) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        try:
            import numpy as np

            if isinstance(x, (np.integer, np.floating)):
                x = float(x)
            else:
                raise TypeError
        except TypeError:
            raise TypeError(f"{what} must be a number, not {_typename(x)}") from None
    x = float(x)
    if x != x or (lo is not None and x < lo) or (hi is not None and x > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{what} must be in {rng}, not {x}")
    return x


def _bool(x: Any, what: str) -> bool:
    if not isinstance(x, bool):
        try:
            import numpy as np

            if isinstance(x, np.bool_):
                return bool(x)
        except ImportError:
            pass
        raise TypeError(f"{what} must be a bool, not {_typename(x)}")
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
    """What merge_collections appended (irbis::MergeReport); ``resumed``: of ``records``, those an
    interrupted run of the same merge had already committed (running it again finishes it)."""

    partials: int
    records: int
    ok: int
    failed: int
    resumed: int = 0
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
        if os.path.exists(os.path.join(p, os.fsencode(_irbis.CATALOG_FILE))) and not exist_ok:
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
              commit_every: Optional[int] = None, engine: Optional[str] = None,
              precision: Optional[str] = None) -> IndexReport:
        """Scans ``roots`` (folders or files) and indexes new and changed images, marks removed
        ones (irbis::index_collection, as `irbis index`). Resumable: an interrupted run
        (Ctrl-C, a killed process) loses nothing committed; run it again to finish.

        features: "hashes" and/or "cnn" (default: what create() recorded, else both);
        model: the CNN model (default: create()'s, else DEFAULT_MODEL);
        progress: True (tqdm or a counter on stderr) or a callable(done, total), called at most
        every 0.1 s and at the end (an exception it raises stops the run; Ctrl-C works too);
        commit_every: images per catalog transaction (default 256; a run also commits every 2 s);
        engine / precision: CNN inference for this run ("auto", "onednn", "opencv" / "auto", "fp32",
        "bf16"; default: irbis.set_inference's choice, see docs/models.md)."""
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
        if engine is not None:
            kw["engine"] = _str(engine, "engine")
        if precision is not None:
            kw["precision"] = _str(precision, "precision")
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
    def dupes(self, threshold: Optional[int] = None, *, cnn: bool = False, min_similarity: Optional[float] = None,
              model: Optional[str] = None, index: str = "auto", single_linkage: Optional[bool] = None) -> Any:
        """Exact and near-duplicate groups, as `irbis dupes --format csv`: group, path, role
        (keep/duplicate), distance, kind (exact/near/cnn/verified), width, height, size, then the
        evidence tying each duplicate to its group's kept image — variant_distance and variant
        (pHash distance over the mirrored image, NaN/None when the collection has no mirror
        hashes), dhash_distance (the second hash that must agree, NaN when not compared), inliers
        (geometric verification, NaN when not verified) — and id
        (irbis::find_collection_dupes; groups and evidence in docs/dupes.md).

        threshold: largest pHash Hamming distance (of 64 bits) for a near duplicate without
        further checks (default: the library's, docs/calibration.md); pairs a little farther are
        kept when geometric verification confirms them (kind "verified");
        cnn=True: also pair images whose CNN embeddings have a cosine similarity of at least
        ``min_similarity`` (default: the library's sure threshold), which catches crops,
        rotations and overlays; adds a ``similarity`` column (1 for the kept image, NaN for
        pairs without an embedding). model/index: whose embeddings, and the vector index
        (auto, exact or hnsw) as in :meth:`search`. single_linkage was removed (groups are
        keep-centred and cannot chain); passing it raises UsageError."""
        if single_linkage is not None:
            raise UsageError("dupes: single_linkage was removed: every duplicate now matches the image its group "
                             "keeps directly, so chains cannot form (docs/dupes.md); drop the argument")
        kw: dict = {"cnn": _bool(cnn, "cnn"), "model": self._model(model), "index": _str(index, "index")}
        if threshold is not None:
            kw["threshold"] = _int(threshold, "threshold", 0, 64)
        if min_similarity is not None:
            if not kw["cnn"]:
                raise UsageError("dupes: min_similarity applies to CNN pairs; pass cnn=True")
            kw["min_similarity"] = _float(min_similarity, "min_similarity", -1.0, 1.0)
        return _table(self._c.dupes(**kw)["columns"])

    def issues(self, *, model: Optional[str] = None, neighbours: int = 7, z: float = 3.5) -> "IssuesResult":
        """What is wrong with the collection, as `irbis issues` (irbis::find_collection_issues,
        docs/issues.md): one row per (image, issue) with the columns of `irbis issues --format
        csv` (path, issue, score, threshold, reason, id) and the summary per issue. Returns an
        :class:`IssuesResult` (``table, summary = col.issues()`` also works). model: embeddings
        for the odd-one-out neighbourhood; neighbours: its k; z: robust z-score of "unusual"."""
        import json

        d = json.loads(self._c.issues(self._model(model), _int(neighbours, "neighbours", 1),
                                      _float(z, "z", 1.0, 20.0)))
        names = ("path", "issue", "score", "threshold", "reason", "id")
        cols = {n: [row[n] for row in d["issues"]] for n in names}
        return IssuesResult(table=_table(cols), summary=d["summary"], images=d["images"],
                            embeddings=d["embeddings"])

    def search_colors(self, colors: Union[str, Sequence[str]], k: int = 10) -> Any:
        """The ``k`` images whose dominant colours best hold every query colour, as `irbis search
        --colors` (irbis::search_collection_colors, docs/colors.md), best first: a table with the
        columns of its CSV (rank, match, path, palette, id); ``palette`` is each image's colours,
        heaviest first, as dicts ``color`` ("#rrggbb"), ``weight``, ``lab`` ([L, a, b]).
        colors: "#1f3a5f,#ffffff" or a list of "#rrggbb" strings."""
        import json

        if isinstance(colors, (list, tuple)):
            text = ",".join(_str(c, "colors[]") for c in colors)
        else:
            text = _str(colors, "colors")
        d = json.loads(self._c.search_colors(text, _int(k, "k", 1)))
        names = ("rank", "match", "path", "palette", "id")
        return _table({n: [row[n] for row in d["results"]] for n in names})

    def match(self, paths: Any, *, threshold: Optional[int] = None, cnn: bool = True,
              min_similarity: Optional[float] = None, model: Optional[str] = None, index: str = "auto",
              verify: bool = True) -> dict:
        """Which collection images each new image duplicates, with the evidence: the JSON of
        `irbis match --json` as a dict (irbis::match_images, irbis::match_json). ``paths``: a
        file or folder, or a list of them; nothing is added to the collection. Each entry of
        ``results`` has the ``query`` ({path, format, width, height}, or {path, reason} when it
        could not be read or decoded) and its ``matches``, best first (kind exact/near/cnn/verified,
        distance, variant_distance, variant, dhash_distance, similarity, inliers). cnn=False: hashes only; a
        collection without embeddings gets the hash answer and a ``note`` naming the index
        command that adds them. verify=False: no geometric verification of the uncertain band.
        threshold and min_similarity default to those of :meth:`dupes` (docs/calibration.md)."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        plist = [_str(os.fspath(p), "paths") for p in paths]
        kw: dict = {"cnn": _bool(cnn, "cnn"), "model": self._model(model), "index": _str(index, "index"),
                    "verify": _bool(verify, "verify")}
        if threshold is not None:
            kw["threshold"] = _int(threshold, "threshold", 0, 64)
        if min_similarity is not None:
            kw["min_similarity"] = _float(min_similarity, "min_similarity", -1.0, 1.0)
        import json
        return json.loads(self._c.match(plist, **kw))

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

    # -- search
    def _model(self, model: Optional[str]) -> str:
        """The embedding model: the argument, else create()'s, else DEFAULT_MODEL."""
        if model is None:
            model = self._c.meta(_META_MODEL) or DEFAULT_MODEL
        return _str(model, "model")

    def vector_index(self, model: Optional[str] = None, index: str = "auto", *, hnsw_min: Optional[int] = None,
                     ef: Optional[int] = None) -> "VectorIndex":
        """Opens the vector index over the CNN embeddings of ``model`` (irbis::VectorSearch::open):
        a snapshot for many :meth:`VectorIndex.search` / :meth:`VectorIndex.unique` calls
        (:meth:`search` and :meth:`unique` open one per call). index: "auto" (exact below
        ``hnsw_min`` images, default 10000; HNSW from there on, persisted under
        <collection>/index), "exact" or "hnsw"; ef: the HNSW query beam. UsageError naming the
        index command when the collection has no embeddings of the model."""
        kw = {}
        if hnsw_min is not None:
            kw["hnsw_min"] = _int(hnsw_min, "hnsw_min", 1)
        if ef is not None:
            kw["ef"] = _int(ef, "ef", 1)
        return VectorIndex(_irbis._VectorIndex.open(self._c, self._model(model), _str(index, "index"), **kw))

    def search(self, query: Any = None, k: int = 10, *, id: Optional[int] = None, path: Optional[PathLike] = None,
               model: Optional[str] = None, index: str = "auto", ef: Optional[int] = None) -> Any:
        """The ``k`` images most similar to a query (cosine of CNN embeddings), as `irbis search`:
        a table rank, id, path, similarity, distance (= 1 - similarity), best first.

        Give exactly one of: ``query``, an image file (need not be in the collection; embedded
        on the fly with the collection's model) or a 1-D vector of the model's dimension (e.g. a
        row of :meth:`embeddings`; normalised to unit length); ``id=`` or ``path=``, an indexed
        image (itself excluded from the results). model/index/ef as in :meth:`vector_index`."""
        q = _search_query(query, id, path)  # bad arguments fail before the index is opened
        k = _int(k, "k", 1)
        return self.vector_index(model, index, ef=ef)._search(q, k)

    def unique(self, top: int = 20, *, density_k: int = 5, model: Optional[str] = None,
               index: str = "auto") -> "UniqueResult":
        """The most unique images, as `irbis unique`: every image's distance (1 - cosine) to its
        nearest neighbour that is not an exact copy (same content), ranked descending
        (irbis::rank_unique_images). Returns a :class:`UniqueResult` (``table, summary =
        col.unique()`` also works): the first ``top`` rows (0 = all) and the boxplot summary of
        all distances (quartiles, whiskers, outliers beyond 1.5 IQR). density_k: neighbours
        averaged in the density column."""
        top = _int(top, "top", 0)
        density_k = _int(density_k, "density_k", 1)
        return self.vector_index(model, index).unique(top, density_k=density_k)

    # -- classifiers
    def train(self, labels: Union[str, bytes, "os.PathLike[str]", Mapping[Any, str]] = "folders", *,
              test_fraction: float = 0.3, seed: int = 1, model: Optional[str] = None, input: str = "auto",
              l2: Optional[float] = None, folds: int = 3, class_weights: bool = True, suspects: bool = False,
              suspect_confidence: float = 0.8, refit: bool = True) -> "Classifier":
        """Trains a classifier on the CNN embeddings, as `irbis train` (multinomial logistic
        regression, L-BFGS; irbis::train_classifier): stratified ``test_fraction`` held out
        (seeded), the input and the L2 penalty chosen by ``folds``-fold cross-validation unless
        given; then (``refit``, default) the saved model is fitted on every labelled image.

        model: the embedding model, or several joined by "," (one head each, their calibrated
        probabilities averaged); default: every model the collection has embeddings of.

        labels: "folders" (class = parent folder name), the path of a CSV with columns
        path,label, or a mapping path -> label (images left out are unlabelled and ignored);
        input: "auto" (cross-validation picks), "full" (the model's descriptor), "blocks" (every
        pooled block), "blocks-sqrt" (their signed square root; better for textures) or
        "blocks-sqrt-rff" (random Fourier features of blocks-sqrt: a non-linear classifier, never
        chosen by "auto"); class_weights: weight classes by 1 / their size; suspects=True: also
        predict every image out of fold and list labels contradicted with probability >=
        ``suspect_confidence`` in ``Classifier.suspects``. Returns an :class:`irbis.Classifier`
        (``.report``: accuracies, per-class precision/recall/F1, confusion)."""
        kw: dict = {}
        if isinstance(labels, str) and labels == "folders":
            kw["labels"] = labels
        elif isinstance(labels, (str, bytes, os.PathLike)):
            kw["labels"] = _path(labels, "labels")  # a CSV file; raw bytes, like every path
        elif isinstance(labels, Mapping) or hasattr(labels, "items"):
            pairs = []
            for p, lab in labels.items():
                if lab is None:
                    continue
                if not isinstance(lab, str):
                    raise TypeError(f"labels must map paths to str labels, not to {_typename(lab)}")
                pairs.append((_path(p, "labels key"), lab))
            kw["label_pairs"] = pairs
        else:
            raise TypeError(f"labels must be 'folders', a CSV path or a mapping path -> label, not {_typename(labels)}")
        kw["model"] = "" if model is None else _str(model, "model")  # "": every model indexed, as `irbis train`
        kw["input"] = _str(input, "input")
        kw["test_fraction"] = _float(test_fraction, "test_fraction", 0.0, 0.9)
        kw["seed"] = _int(seed, "seed", 0)
        if l2 is not None:
            kw["l2"] = _float(l2, "l2", 0.0)
            if kw["l2"] <= 0:
                raise ValueError(f"l2 must be > 0, not {l2}")
        kw["folds"] = _int(folds, "folds", 2, 20)
        kw["balanced"] = _bool(class_weights, "class_weights")
        kw["refit"] = _bool(refit, "refit")
        if _bool(suspects, "suspects"):
            kw["suspect_confidence"] = _float(suspect_confidence, "suspect_confidence", 0.0, 1.0)
        handle, sus = self._c.train(**kw)
        return Classifier(handle, None if sus is None else _table(sus))


def _search_query(query: Any, id: Any, path: Any) -> tuple:
    """The one query of a search, checked: ("id", int), ("path", bytes), ("file", bytes) or
    ("vector", float32 array)."""
    given = (query is not None) + (id is not None) + (path is not None)
    if given != 1:
        raise UsageError("search: give exactly one of query (an image file or a vector), id= or path=")
    if id is not None:
        return ("id", _int(id, "id", 0))
    if path is not None:
        return ("path", _path(path, "path"))
    if isinstance(query, (str, bytes, os.PathLike)):
        return ("file", _path(query, "query"))
    if hasattr(query, "__array__") or isinstance(query, (list, tuple)):
        import numpy as np

        q = np.asarray(query)
        if q.dtype.kind not in "fiu" or q.ndim != 1:
            raise TypeError(f"query vector must be a 1-D numeric array, not {q.dtype} with shape {q.shape}")
        return ("vector", q.astype(np.float32, copy=False))
    raise TypeError(f"query must be an image path (str, bytes or os.PathLike) or a 1-D vector, not {_typename(query)}")


# ------------------------------------------------------------------------------------- search
@dataclass
class IssuesResult:
    """:meth:`Collection.issues`: ``table`` (one row per image and issue), ``summary`` (per
    issue: images, threshold, rule), ``images`` examined, ``embeddings`` (odd ones out used
    the CNN neighbourhood). Unpacks as ``table, summary``."""
    table: Any
    summary: list
    images: int = 0
    embeddings: bool = False

    def __iter__(self) -> Iterator[Any]:
        return iter((self.table, self.summary))


@dataclass
class UniqueResult:
    """What :meth:`Collection.unique` ranked (irbis::UniqueResult). ``table``: the columns of
    unique.csv — rank, id, path, distance (1 - cosine to the nearest non-copy; NaN when every other
    image is a copy), neighbor_id, neighbor_path, density (mean distance to the density_k nearest),
    outlier (beyond the upper fence), exact (distance checked by exact search); ``summary``: n, min,
    q1, median, q3, max, mean, lower/upper_whisker, lower/upper_fence, low/high_outliers over every
    image with a neighbour (the CLI JSON's "summary"). ``table, summary = result`` unpacks the two."""

    table: Any
    summary: dict
    images: int
    top_exact: bool
    rechecked: int
    model: str
    index: str

    def __iter__(self) -> Iterator[Any]:
        yield self.table
        yield self.summary


class VectorIndex:
    """A vector index over a collection's CNN embeddings (irbis::VectorSearch), from
    :meth:`Collection.vector_index`. A snapshot: images indexed later are not in it (open a new
    one); it stays usable after the collection is closed. Calls release the GIL (one query at a
    time per index)."""

    __slots__ = ("_v",)

    def __init__(self, handle: "_irbis._VectorIndex"):
        if not isinstance(handle, _irbis._VectorIndex):
            raise TypeError("use Collection.vector_index()")
        self._v = handle

    @property
    def size(self) -> int:
        """Images in the index."""
        return self._v.size

    @property
    def dim(self) -> int:
        """Dimension of the stored descriptors (and of a query vector)."""
        return self._v.dim

    @property
    def model(self) -> str:
        return self._v.model

    @property
    def kind(self) -> str:
        """"exact" or "hnsw"."""
        return self._v.kind

    @property
    def status(self) -> dict:
        """What opening did (irbis::IndexStatus): loaded, built, rebuild_reason, added, ..."""
        return self._v.status

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"<irbis.VectorIndex {self._v.collection!r} {self.model} {self.kind}, {self.size} images>"

    def search(self, query: Any = None, k: int = 10, *, id: Optional[int] = None,
               path: Optional[PathLike] = None) -> Any:
        """As :meth:`Collection.search`: rank, id, path, similarity, distance."""
        q = _search_query(query, id, path)
        return self._search(q, _int(k, "k", 1))

    def _search(self, q: tuple, k: int) -> Any:
        kind, value = q
        if kind == "id":
            d = self._v.search_indexed(id=value, k=k)
        elif kind == "path":
            d = self._v.search_indexed(path=value, k=k)
        elif kind == "file":
            d = self._v.search_file(value, k)
        else:
            d = self._v.search_vector(value, k)
        return _table(d["columns"])

    def unique(self, top: int = 20, *, density_k: int = 5) -> UniqueResult:
        """As :meth:`Collection.unique`."""
        d = self._v.unique(_int(top, "top", 0), _int(density_k, "density_k", 1))
        return UniqueResult(table=_table(d["columns"]), summary=d["summary"], images=d["images"],
                            top_exact=d["top_exact"], rechecked=d["rechecked"], model=d["model"], index=d["index"])


# ------------------------------------------------------------------------------------- classifiers
@dataclass
class Explanation:
    """A LIME explanation (irbis::explain_image) from :meth:`Classifier.explain`. ``label`` is the
    explained class, ``probability`` its probability on the unperturbed image; ``superpixels``
    one row per superpixel (id, weight = how much showing it raises that probability, pixels,
    x, y, width, height in the working image); ``image`` the working image (H, W, 3 uint8 RGB,
    downscaled to max_side), ``segments`` its superpixel id per pixel (H, W int32), ``overlay``
    the picture `irbis explain --out` writes (top superpixels bright and outlined); ``report``
    the JSON of `irbis explain --weights`."""

    label: str
    probability: float
    probabilities: dict
    superpixels: Any
    intercept: float
    r2: float
    samples: int
    image: Any
    segments: Any
    overlay: Any
    report: dict

    def weights(self) -> Any:
        """The superpixel weights as a 1-D float array, by superpixel id."""
        s = self.superpixels
        return s["weight"].to_numpy() if hasattr(s["weight"], "to_numpy") else s["weight"]


class Classifier:
    """A classifier on CNN embeddings (irbis::Classifier): from :meth:`Collection.train` or
    :meth:`load` (files of `irbis train --out`, and the CLI reads the files :meth:`save` writes).

    ``classes``, ``embedding_model`` and ``input`` (per head, joined by "," for a classifier of
    several embedding models, e.g. "mobilenet_v2_mid,inception_v3"); ``report``: the training
    report (seed, test_fraction, l2 and its cross-validation, train/test accuracy, balanced
    accuracy, per-class precision/recall/F1/support, confusion); ``suspects``: possible mislabels
    when trained with ``suspects=True`` (else None). Predicting files runs `irbis predict`'s path
    (one network per core); explaining loads the embedding models once, on first use; calls
    release the GIL (explaining: one at a time per classifier)."""

    __slots__ = ("_k", "suspects", "_report")

    def __init__(self, handle: "_irbis._Classifier", suspects: Any = None):
        if not isinstance(handle, _irbis._Classifier):
            raise TypeError("use Collection.train() or irbis.Classifier.load(path)")
        self._k = handle
        self.suspects = suspects
        self._report: Optional[dict] = None

    @classmethod
    def load(cls, path: PathLike) -> "Classifier":
        """Reads a classifier file; ModelError if it is not one, is damaged or from another format version."""
        return cls(_irbis._Classifier.load(_path(path, "path")))

    def save(self, path: PathLike) -> None:
        """Writes the classifier file (atomically), readable by `irbis predict` / `irbis explain`."""
        self._k.save(_path(path, "path"))

    @property
    def classes(self) -> list:
        return self._k.classes

    @property
    def embedding_model(self) -> str:
        return self._k.embedding_model

    @property
    def input(self) -> str:
        return self._k.input

    @property
    def report(self) -> dict:
        if self._report is None:
            import json

            self._report = json.loads(self._k.report_json)
        return self._report

    def _split(self, split: str) -> dict:
        if split not in ("test", "train"):
            raise ValueError(f"split must be 'test' or 'train', not {split!r}")
        if split not in self.report:
            raise UsageError(f"the classifier was trained without a {split} split")
        return self.report[split]

    def per_class(self, split: str = "test") -> Any:
        """Precision, recall, F1 and support per class on the test (or train) split."""
        rows = self._split(split)["per_class"]
        return _table({k: [r[k] for r in rows] for k in ("class", "precision", "recall", "f1", "support")})

    def confusion(self, split: str = "test") -> Any:
        """The confusion matrix (rows: true class, columns: predicted) as a DataFrame indexed by
        class name (a nested list without pandas)."""
        m = self._split(split)["confusion"]
        try:
            import pandas as pd
        except ImportError:
            return m
        return pd.DataFrame(m, index=pd.Index(self.classes, name="true"), columns=pd.Index(self.classes, name="predicted"))

    def __repr__(self) -> str:
        acc = self.report.get("test", self.report.get("train", {})).get("accuracy")
        tail = f", test accuracy {acc:.3f}" if acc is not None and "test" in self.report else ""
        return f"<irbis.Classifier {self.embedding_model} {self.input}, classes {self.classes}{tail}>"

    def _columns(self, proba: Any, best: Any) -> dict:
        """label/probability/p_<class> columns from the C++ answer (best: the most probable class
        per row as irbis::argmax_rows picks it, -1 for a file that failed)."""
        import numpy as np

        classes = self.classes
        proba = np.asarray(proba).reshape(len(best), len(classes))  # (0, 0) -> (0, K) when empty
        cols: dict = {
            "label": [classes[b] if b >= 0 else None for b in best.tolist()],
            "probability": np.where(best >= 0, proba[np.arange(len(best)), np.maximum(best, 0)], np.nan),
        }
        for c, name in enumerate(classes):
            cols[f"p_{name}"] = proba[:, c]
        return cols

    def predict(self, items: Union[PathLike, Iterable[PathLike], "Collection"], *, errors: str = "report") -> Any:
        """Labels and class probabilities, as `irbis predict --format csv`: columns path, label
        (the most probable class), probability (its probability), p_<class> for every class.

        items: image files (one path or a list; embedded on the fly, plus an ``error`` column:
        None, or why the file could not be read, its label None and probabilities NaN; with
        ``errors="raise"`` the first such file raises IoError/DecodeError instead), or a
        :class:`Collection` (every live image from its stored embeddings, plus an ``id`` column)."""
        if errors not in ("report", "raise"):
            raise ValueError(f"errors must be 'report' or 'raise', not {errors!r}")
        if isinstance(items, Collection):
            proba, best, ids, paths = self._k.predict_collection(items._c)
            return _table({"path": paths, **self._columns(proba, best), "id": ids})
        files = _paths(items, "items")
        proba, best, errs = self._k.predict_files(files, errors == "raise")
        return _table({"path": [os.fsdecode(f) for f in files], **self._columns(proba, best), "error": errs})

    def explain(self, path: PathLike, *, samples: int = 1000, superpixels: int = 50, seed: int = 1,
                cls: Optional[str] = None, fill: str = "mean", batch: int = 8, max_side: int = 512,
                out: Optional[PathLike] = None, percentile: float = 90.0) -> Explanation:
        """Why the classifier labels an image as it does, as `irbis explain` (LIME on SLIC
        superpixels; irbis::explain_image): ``samples`` perturbed copies hiding random
        superpixels (filled with their mean colour or a blur) are scored, and a weighted ridge
        regression gives each superpixel a weight. Deterministic for a given ``seed``.

        cls: the class to explain (default: the predicted one); max_side: the image is
        downscaled to at most this long side first; out: also write the overlay picture
        (.png/.jpg) with superpixels at or above the ``percentile`` of weights highlighted."""
        kw = {
            "samples": _int(samples, "samples", 10, 1000000),
            "superpixels": _int(superpixels, "superpixels", 2, 10000),
            "seed": _int(seed, "seed", 0),
            "fill": _str(fill, "fill"),
            "batch": _int(batch, "batch", 1, 256),
            "max_side": _int(max_side, "max_side", 32, 8192),
            "percentile": _float(percentile, "percentile", 0.0, 100.0),
        }
        if cls is not None:
            kw["target"] = _str(cls, "cls")
        if out is not None:
            kw["out"] = _path(out, "out")
        d = self._k.explain(_path(path, "path"), **kw)
        import json

        rep = json.loads(d["report_json"])
        return Explanation(label=rep["class"], probability=rep["probability"], probabilities=rep["probabilities"],
                           superpixels=_table(d["superpixels"]), intercept=rep["intercept"], r2=rep["r2"],
                           samples=rep["samples"], image=d["image"], segments=d["segments"], overlay=d["overlay"],
                           report=rep)


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
    files, and paths present twice. ``dest`` is a Collection or a path (created if missing).
    A merge that failed or was killed is finished by calling it again with the same arguments."""
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


def set_inference(engine: str = "auto", precision: str = "auto") -> None:
    """Engine ("auto", "onednn", "opencv") and precision ("auto", "fp32", "bf16") of every later
    CNN embedding in this process: indexing, search by image, classifiers and explanations (the
    CLI's --engine / --precision; docs/models.md). "auto" precision is bf16 on CPUs with native
    bf16 (AVX-512 BF16, AMX), else fp32; when indexing into a collection, the one its rows used."""
    _irbis.set_inference(_str(engine, "engine"), _str(precision, "precision"))


def inference() -> dict:
    """The current set_inference() choice, the fastest precision this CPU runs natively
    ("auto_precision"; "auto" uses it for models that passed its accuracy gates, docs/models.md)
    and the instruction set oneDNN dispatches to ("isa")."""
    return _irbis.inference()


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
