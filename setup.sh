#!/usr/bin/env bash
# Installs what irbis needs on Debian 12 (apt), fetches the pretrained weights package,
# and builds irbis into build/. Idempotent: re-running skips what is already done.
#   ./setup.sh            install + build (Release)
#   IRBIS_SKIP_APT=1 ./setup.sh   build only
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  # image I/O: libjpeg-turbo (TurboJPEG API for DCT-scaled decode), giflib, libexif
  libturbojpeg0-dev libjpeg62-turbo-dev libgif-dev libexif-dev libwebp-dev libtiff-dev libpng-dev
  # computer vision and maths: OpenCV (imgcodecs, imgproc, dnn, ximgproc), FAISS, OpenBLAS
  libopencv-dev libopencv-contrib-dev libfaiss-dev libopenblas0-pthread libopenblas-dev
  libhnswlib-dev liblbfgs-dev
  # model import: ONNX protobuf classes
  libonnx-dev libprotobuf-dev protobuf-compiler
  # CNN inference engine: oneDNN (fp32 / bf16 convolutions in blocked layouts)
  libdnnl-dev
  # storage and plumbing
  libsqlite3-dev sqlite3 libxxhash-dev libcli11-dev nlohmann-json3-dev
  libcpp-httplib-dev
  # tests and benchmarks; clang + compiler-rt + libomp for the sanitizer and fuzz build
  # (scripts/sanitize.sh), iproute2 (ss) for the loopback-binding check of tests/e2e/serve.sh,
  # curl for tests/e2e/serve_hardening.sh
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev libomp-dev zlib1g-dev iproute2 curl
  # python references for benchmarks and test fixtures
  python3-numpy python3-pil python3-scipy python3-opencv python3-sklearn python3-hnswlib python3-faiss
  # real photographs for the sample collection and tests
  opencv-doc python3-skimage
  # a real CMYK JPEG producer for the decoder test (tests/io/decode_test.cpp)
  imagemagick
  # HEIF/HEIC (HEVC via libde265), AVIF, JPEG XL and camera RAW decoding (src/io/{heif,avif,jxl,raw}.cpp);
  # their encoders make the test and benchmark files at test time (tests/io/formats_test.cpp)
  libheif-dev libde265-dev libavif-dev libjxl-dev libraw-dev libheif-examples libavif-bin libjxl-tools
  # dav1d's header: its messages are routed into irbis's errors (src/io/dav1d_log.cpp)
  libdav1d-dev
  # browser tests of the report and web UI (driven by playwright-core, tests/browser); load generator
  chromium wrk
  # Python bindings (pybind11, built by CMake) and their packaging, tests and Dask scale-out
  pybind11-dev python3-pybind11 python3-dev python3-venv python3-pip python3-wheel python3-setuptools
  python3-pandas python3-dask python3-distributed python3-tqdm python3-pytest
)

# node + npm unwrap the model package; the machine image ships them (NodeSource), Debian's
# nodejs/npm are the fallback.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

need_install=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_install+=("$p")
done
if [ "${IRBIS_SKIP_APT:-0}" != 1 ] && [ ${#need_install[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "setup: installing ${#need_install[@]} Debian packages: ${need_install[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_install[@]}"
fi

# OpenBLAS, not the reference BLAS: FAISS and OpenCV link libblas.so.3, which the alternatives
# system points at whichever provider has the highest priority.
if command -v update-alternatives >/dev/null; then
  for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
    cur=$(update-alternatives --query "$alt" 2>/dev/null | awk '/^Value:/{print $2}')
    case "$cur" in *openblas*) ;; *)
      target=$(update-alternatives --query "$alt" 2>/dev/null | awk '/^Alternative:/{print $2}' | grep openblas-pthread | head -1)
      [ -n "$target" ] && update-alternatives --set "$alt" "$target" >/dev/null || true;;
    esac
  done
fi

# Pretrained weights (nsfwjs from the npm registry), verified by checksum; see models/README.md.
if [ -x scripts/fetch_models.sh ]; then scripts/fetch_models.sh; fi

# Browser tests: playwright-core from the npm registry (locked), driving Debian's chromium; no
# browser download. Re-run only when the lock file changed.
if command -v npm >/dev/null 2>&1 && [ -f tests/browser/package-lock.json ]; then
  stamp=tests/browser/node_modules/.irbis-stamp
  if [ ! -d tests/browser/node_modules/playwright-core ] || ! [ "$stamp" -nt tests/browser/package-lock.json ]; then
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) && touch "$stamp"
  fi
fi

BUILD_TYPE=${IRBIS_BUILD_TYPE:-Release}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
cmake --build build -j"$(nproc)"

# Import the default models into ONNX now that the importer is built.
if [ -x scripts/import_models.sh ]; then scripts/import_models.sh; fi
echo "setup: done. build/irbis --help"
