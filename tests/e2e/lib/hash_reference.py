"""An independent reference of docs/features.md's pHash, dHash and aHash (numpy + scipy), used by
tests/e2e/golden_hashes.sh to pin irbis's hashes on real photos.

  hash_reference.py make OUT_DIR PHOTO...      writes small PPM versions of the photos
  hash_reference.py check OUT_DIR EXPORT_CSV   compares `irbis export --hashes` with the reference

The PPM files are what both sides hash: irbis reads their raw pixels (no decoder, no EXIF), and
every side is at most 62 px so `index` hashes them as they are (no pre-shrink, docs/features.md).
A few larger JPEGs pin what `index` feeds the hashes (docs/features.md): the decode at
kHashMinSide = 32, i.e. libjpeg's DCT scaling to the smallest n/8 with both sides >= 32 (PIL's
draft mode, the same libjpeg-turbo scaled IDCT through its other API). How many of them the CNN's
224 px decode would hash differently on clear bits is printed (bench/producers.sh counts the bits
on real 1 MP photos; docs/features.md says why the hashes keep their own decode).
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.fft import dctn

TIE = 1e-3
# A bit is only pinned when the reference's value is clear of its threshold by this much: irbis
# computes in float32, this reference in float64.
MARGIN = {"phash": 2e-2, "dhash": 2e-3, "ahash": 2e-3}


def area_matrix(n, m):
    """m x n matrix: output pixel j is the mean of source interval [j n/m, (j+1) n/m)."""
    assert m <= n, "the reference only shrinks"
    a = np.zeros((m, n))
    scale = n / m
    for j in range(m):
        lo, hi = j * scale, (j + 1) * scale
        for i in range(int(np.floor(lo)), min(n, int(np.ceil(hi)))):
            a[j, i] = (min(hi, i + 1) - max(lo, i)) / scale
    return a


def area_resize(img, w, h):
    return area_matrix(img.shape[0], h) @ img @ area_matrix(img.shape[1], w).T


def bilinear_resize(img, w, h):
    """Half-pixel-centred bilinear interpolation (what OpenCV's INTER_LINEAR does): used only to
    show that the check tells it from area averaging."""
    def axis(n, m):
        x = np.clip((np.arange(m) + 0.5) * n / m - 0.5, 0, n - 1)
        i0 = np.floor(x).astype(int)
        i1 = np.minimum(i0 + 1, n - 1)
        f = x - i0
        a = np.zeros((m, n))
        a[np.arange(m), i0] += 1 - f
        a[np.arange(m), i1] += f
        return a
    return axis(img.shape[0], h) @ img @ axis(img.shape[1], w).T


def gray(rgb):
    rgb = rgb.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def bits_to_int(bits):
    h = 0
    for b in bits:
        h = (h << 1) | int(b)
    return h


def hashes(rgb, resize=area_resize):
    """{name: (hash, margins)}: margins[i] = how far bit i's value is from its threshold."""
    g = gray(rgb)
    out = {}
    c = dctn(resize(g, 32, 32), type=2, norm="ortho")[:8, :8].ravel()
    c = np.where(np.abs(c) < TIE, 0.0, c)
    s = np.sort(c)
    median = 0.5 * (s[31] + s[32])
    out["phash"] = (bits_to_int(c > median), np.abs(c - median))
    p = resize(g, 9, 8)
    d = (p[:, 1:] - p[:, :-1]).ravel()
    out["dhash"] = (bits_to_int(d > TIE), np.abs(d - TIE))
    p = resize(g, 8, 8).ravel()
    d = p - p.mean()
    out["ahash"] = (bits_to_int(d > TIE), np.abs(d - TIE))
    return out


def read_ppm(path):
    data = Path(path).read_bytes()
    end = data.index(b"\n", data.index(b"\n", data.index(b"\n") + 1) + 1)  # as make() writes it
    magic, w, h, maxval = data[:end].split()
    assert magic == b"P6" and maxval == b"255", path
    w, h = int(w), int(h)
    return np.frombuffer(data[end + 1 : end + 1 + w * h * 3], np.uint8).reshape(h, w, 3)


# Sizes of at most 62 px on each side (never pre-shrunk), none dividing 32, 9 or 8 evenly: output
# pixels of the area resampler mix fractional source pixels.
SIZES = [(61, 47), (50, 37), (62, 57), (37, 58), (45, 33), (59, 41), (33, 62), (55, 55)]
# JPEGs large enough to be DCT-scaled to 1/8 by the 32 px rule (a scale PIL's draft mode offers);
# the CNN's 224 px rule would decode them at 1/2, 1/2, 1/4 and 1/8.
LARGE = [(640, 480), (512, 512), (1024, 960), (1792, 1800)]
DECODE_SIDE = 32  # kHashMinSide
CNN_DECODE_SIDE = 224


def index_input(path, side=DECODE_SIDE):
    """What `index` hashes for a JPEG: decoded at the smallest scale n/8 whose sides are both >= side."""
    img = Image.open(path)
    w, h = img.size
    n = next(n for n in range(1, 9) if -(-w * n // 8) >= side and -(-h * n // 8) >= side)
    assert n in (1, 2, 4, 8), "PIL's draft mode scales by 1/8, 1/4, 1/2 or 1"
    img.draft("RGB", (-(-w * n // 8), -(-h * n // 8)))
    assert img.size == (-(-w * n // 8), -(-h * n // 8)), (img.size, n)
    return np.asarray(img.convert("RGB"))


def make(out_dir, photos):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for k, photo in enumerate(photos):
        rgb = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float64)
        w, h = SIZES[k % len(SIZES)]
        small = np.stack([area_resize(rgb[..., ch], w, h) for ch in range(3)], axis=-1)
        small = np.clip(np.rint(small), 0, 255).astype(np.uint8)
        name = out / (Path(photo).stem + ".ppm")
        name.write_bytes(b"P6\n%d %d\n255\n" % (w, h) + small.tobytes())
    for k, photo in enumerate(photos[: len(LARGE)]):
        w, h = LARGE[k]
        Image.open(photo).convert("RGB").resize((w, h), Image.LANCZOS).save(out / (Path(photo).stem + "_large.jpg"), quality=90)


def differing_pinned_bits(got, want, margins, margin):
    diff = got ^ want
    return sum(1 for i in range(64) if (diff >> (63 - i)) & 1 and margins[i] >= margin)


def check(out_dir, export_csv):
    rows = [line.split(",") for line in Path(export_csv).read_text().splitlines()[1:]]
    got = {Path(r[0]).name: {"phash": int(r[1], 16), "dhash": int(r[2], 16), "ahash": int(r[3], 16)} for r in rows}
    files = sorted(Path(out_dir).glob("*.ppm"))
    large = sorted(Path(out_dir).glob("*_large.jpg"))
    assert len(files) >= 12 and len(large) == len(LARGE), (len(files), len(large))
    assert set(f.name for f in files + large) == set(got), (len(files), sorted(got))
    failures, unpinned, bilinear_caught, cnn_rule_caught = [], 0, 0, 0
    for f in large:
        ref = hashes(index_input(f))
        cnn_rule = hashes(index_input(f, CNN_DECODE_SIDE))
        for name, (want, margins) in ref.items():
            have = got[f.name][name]
            bad = differing_pinned_bits(have, want, margins, MARGIN[name])
            print(f"{f.name:24s} {name} irbis {have:016x} reference {want:016x}" + (f"  {bad} pinned bits differ" if bad else ""))
            if bad:
                failures.append(f"{f.name} {name}")
        if any(differing_pinned_bits(got[f.name][n], cnn_rule[n][0], ref[n][1], MARGIN[n]) for n in ("phash", "dhash", "ahash")):
            cnn_rule_caught += 1
    print(f"{len(large)} large JPEGs: hashing the CNN's 224 px decode instead would differ on {cnn_rule_caught}")
    for f in files:
        rgb = read_ppm(f)
        ref = hashes(rgb)
        for name, (want, margins) in ref.items():
            have = got[f.name][name]
            bad = differing_pinned_bits(have, want, margins, MARGIN[name])
            unpinned += int(np.sum(margins < MARGIN[name]))
            print(f"{f.name:24s} {name} irbis {have:016x} reference {want:016x}" + (f"  {bad} pinned bits differ" if bad else ""))
            if bad:
                failures.append(f"{f.name} {name}")
        # The same reference with bilinear resizing: irbis must disagree with it on clear bits,
        # else this check could not see area averaging swapped for bilinear.
        lin = hashes(rgb, bilinear_resize)
        if any(differing_pinned_bits(got[f.name][n], lin[n][0], ref[n][1], MARGIN[n]) for n in ("phash", "dhash", "ahash")):
            bilinear_caught += 1
    print(f"{len(files)} photos, {3 * len(files)} hashes; {unpinned} of {192 * len(files)} bits within float noise of "
          f"their threshold (not pinned); bilinear reference differs on {bilinear_caught} photos")
    if failures:
        sys.exit("irbis hashes differ from the reference: " + ", ".join(failures))
    if bilinear_caught < len(files) // 2:
        sys.exit(f"the bilinear reference agrees with irbis on {len(files) - bilinear_caught} photos: the check is too weak")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
