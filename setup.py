"""Packages the irbis Python module that CMake already built (build/python/irbis/: the pybind11
extension _irbis*.so plus the pure-Python files copied from python/irbis/). Build first:

    cmake -S . -B build -G Ninja && cmake --build build      # IRBIS_BUILD_PYTHON is ON with pybind11-dev
    /usr/bin/python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation --no-index .

IRBIS_BUILD_DIR points at another build folder (default: build).
"""
import glob
import os
import re

from setuptools import setup
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("IRBIS_BUILD_DIR", "build")
PKG = os.path.join(BUILD, "python", "irbis")
if os.path.isabs(PKG):
    PKG = os.path.relpath(PKG, HERE)
if not glob.glob(os.path.join(HERE, PKG, "_irbis*.so")):
    raise SystemExit(f"setup.py: no extension module in {PKG}; build it first with "
                     "`cmake --build build` (CMake option IRBIS_BUILD_PYTHON, needs pybind11-dev)")
with open(os.path.join(HERE, PKG, "_build_config.py")) as f:
    VERSION = re.search(r'VERSION = "([^"]+)"', f.read()).group(1)


# setuptools' own scratch files go inside the CMake build folder, not into the source tree.
SCRATCH = os.path.join(BUILD, "setuptools")
os.makedirs(os.path.join(HERE, SCRATCH), exist_ok=True)


class BinaryDistribution(Distribution):
    """The wheel holds a compiled module: platform-specific, not pure."""

    def has_ext_modules(self):
        return True


setup(
    name="irbis",
    version=VERSION,
    description="Answers from image collections: duplicates, embeddings, clusters (C++ core)",
    packages=["irbis"],
    package_dir={"irbis": PKG},
    package_data={"irbis": ["_irbis*.so", "*.pyi", "py.typed"]},
    include_package_data=False,
    distclass=BinaryDistribution,
    python_requires=">=3.9",
    install_requires=["numpy"],
    extras_require={"pandas": ["pandas"], "dask": ["dask", "distributed"], "progress": ["tqdm"]},
    zip_safe=False,
    options={"build": {"build_base": SCRATCH}, "egg_info": {"egg_base": SCRATCH}},
)
