#!/usr/bin/env python3
"""Python reference for the index benchmark: what imagededup's PHash does, one image at a time,
single process. Per file: PIL open -> convert('L') -> resize to 32x32 with LANCZOS (imagededup's
Image.ANTIALIAS) -> scipy.fftpack.dct along axis 0 then axis 1 -> top-left 8x8 -> median over the
63 AC values of the flattened 8x8 (imagededup drops element 0) -> bits = coef >= median.
(imagededup itself resizes the RGB image and then converts to L; converting first, as done here,
is cheaper, so this reference is if anything slightly faster than imagededup.)
usage: ref_phash.py FOLDER [--out hashes.csv]     prints: files, seconds, images/s (loop only)
"""
import os, sys, time
import numpy as np
import scipy.fftpack
from PIL import Image

LANCZOS = getattr(Image, "LANCZOS", None) or Image.ANTIALIAS


def phash(path):
    img = Image.open(path)
    img = img.convert("L").resize((32, 32), LANCZOS)
    a = np.asarray(img, dtype=np.float64)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(a, axis=0), axis=1)
    low = dct[:8, :8].flatten()
    med = np.median(low[1:])
    bits = low >= med
    return int("".join("1" if b else "0" for b in bits), 2)


def main():
    folder = sys.argv[1]
    out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else None
    files = []
    for root, _, names in os.walk(folder):
        files += [os.path.join(root, n) for n in names if n.lower().endswith((".jpg", ".jpeg", ".png", ".webp"))]
    files.sort()
    t0 = time.perf_counter()
    hashes = [(f, phash(f)) for f in files]
    dt = time.perf_counter() - t0
    if out:
        with open(out, "w") as fh:
            for f, h in hashes:
                fh.write(f"{f},{h:016x}\n")
    print(f"files={len(files)} seconds={dt:.3f} images_per_s={len(files) / dt:.1f}")


if __name__ == "__main__":
    main()
