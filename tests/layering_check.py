#!/usr/bin/env python3
"""Checks that the library's subsystems depend downward only (ARCHITECTURE.md, "Layers").

Every file under src/<layer>/ and every public header include/irbis/<name>.h belongs to one layer;
an #include "..." of a project file may point to the same layer or to a lower one, never upward
and never sideways (to another layer of the same rank). python/src may include only the public
headers (include/irbis/) and its own files. Third-party front-end libraries stay in their layer.

Usage: layering_check.py SOURCE_DIR      exit 1 and one line per violation when the rule is broken
       layering_check.py --self-test     checks that the checker catches an upward include
"""
import os
import re
import sys
import tempfile

# Lowest first. Layers of the same rank may not include each other.
RANKS = {
    "io": 0,
    "store": 1,
    "features": 2, "models": 2,
    "search": 3, "analysis": 3,
    "pipeline": 4,
    "server": 5,
    "cli": 6,
}

# The layer of each public header (include/irbis/<name>.h).
PUBLIC_HEADERS = {
    "errors.h": "io", "text.h": "io", "image.h": "io", "scan.h": "io", "npy.h": "io", "warnings.h": "io",
    "collection.h": "store", "collection_layout.h": "store", "merge.h": "store", "labels.h": "store",
    "fault_hooks.h": "store", "replace_file.h": "store",
    "hashes.h": "features",
    "quality.h": "features",
    "palette.h": "features",
    "issues.h": "pipeline",
    "model.h": "models", "embeddings.h": "models",
    "search.h": "search",
    "dupes.h": "analysis", "verify.h": "analysis", "cluster.h": "analysis", "classifier.h": "analysis", "lime.h": "analysis",
    "pipeline.h": "pipeline", "collection_analysis.h": "pipeline", "sample.h": "pipeline", "results.h": "pipeline",
    "report.h": "server", "server.h": "server",
}

# Third-party headers only one layer may use (so the core library does not need them).
OWNED_SYSTEM_HEADERS = {"CLI/": "cli", "httplib.h": "server", "pybind11/": "python"}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def layer_of_include(path):
    """The layer a project include ("irbis/x.h" or "<layer>/x.h") points to, or None if unknown."""
    if path.startswith("irbis/"):
        return PUBLIC_HEADERS.get(path[len("irbis/"):], "?")
    head = path.split("/", 1)[0]
    return head if head in RANKS and "/" in path else None


def files(root):
    """(file, layer) for every source and header the rules cover."""
    for sub, layer_from_dir in (("src", True), ("include/irbis", False), ("python/src", False)):
        base = os.path.join(root, sub)
        for dirpath, _, names in os.walk(base):
            for name in sorted(names):
                if not name.endswith((".h", ".hpp", ".cpp")):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                if sub == "src":
                    layer = os.path.relpath(full, base).split(os.sep)[0]
                elif sub == "include/irbis":
                    layer = PUBLIC_HEADERS.get(name, "?")
                else:
                    layer = "python"
                yield full, rel, layer


def check(root):
    problems = []
    for full, rel, layer in files(root):
        if layer != "python" and layer not in RANKS:
            problems.append(f"{rel}: not in any layer (add it to tests/layering_check.py and ARCHITECTURE.md)")
            continue
        with open(full, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                kind, target = m.groups()
                close = '"' if kind == '"' else ">"
                where = f"{rel}:{lineno}: #include {kind}{target}{close}"
                if kind == "<":
                    for prefix, owner in OWNED_SYSTEM_HEADERS.items():
                        if target.startswith(prefix) and layer != owner:
                            problems.append(f"{where}: only {owner} may use {prefix}")
                    continue
                to = layer_of_include(target)
                if to is None:  # a file next to this one (python/src/common.h)
                    if layer == "python" and "/" not in target:
                        continue
                    problems.append(f"{where}: not a project path (\"irbis/x.h\" or \"<layer>/x.h\")")
                    continue
                if to == "?":
                    problems.append(f"{where}: public header with no layer (add it to PUBLIC_HEADERS)")
                    continue
                if layer == "python":
                    if not target.startswith("irbis/"):
                        problems.append(f"{where}: python/ may include only the public headers (irbis/)")
                    continue
                if to == layer:
                    continue
                if RANKS[to] > RANKS[layer]:
                    problems.append(f"{where}: {layer} may not include {to} (upward)")
                elif RANKS[to] == RANKS[layer]:
                    problems.append(f"{where}: {layer} may not include {to} (sideways)")
    return problems


def self_test():
    """The checker must reject an upward, a sideways and a private include, and accept a downward one."""
    with tempfile.TemporaryDirectory() as root:
        def write(rel, text):
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        write("include/irbis/collection.h", '#include "irbis/errors.h"\n')
        write("src/store/merge.cpp", '#include "irbis/collection.h"\n#include "irbis/pipeline.h"\n')
        write("src/analysis/kmeans.cpp", '#include "search/ip_space.h"\n#include "features/inner_product.h"\n')
        write("python/src/search.cpp", '#include "common.h"\n#include "store/sqlite_db.h"\n')
        write("src/store/collection.cpp", "#include <httplib.h>\n")
        got = check(root)
        expect = ["src/store/merge.cpp:2", "src/analysis/kmeans.cpp:1", "python/src/search.cpp:2",
                  "src/store/collection.cpp:1"]
        ok = len(got) == len(expect) and all(any(p.startswith(e + ":") for p in got) for e in expect)
        print("\n".join(got))
        return 0 if ok else 1


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(sys.argv[1])
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) break the layering (ARCHITECTURE.md, \"Layers\")")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
