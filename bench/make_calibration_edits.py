#!/usr/bin/env python3
"""Add altered copies to an `irbis sample --tiles 8` folder for threshold calibration.

Every original of SAMPLE/truth.csv (expect == original: the photos and their tiles) gets K edits
chosen round-robin from EDITS below (so each kind appears about equally often), written to
SAMPLE/calib/, and the rows are appended to SAMPLE/truth_calib.csv (truth.csv rows + new rows,
same columns: path,original,transform,expect). Deterministic (seeded).
usage: make_calibration_edits.py SAMPLE [K=12]
"""
import csv, os, sys
import numpy as np
import cv2

sample = sys.argv[1]
K = int(sys.argv[2]) if len(sys.argv) > 2 else 12
rng = np.random.default_rng(7)
JPG = [cv2.IMWRITE_JPEG_QUALITY, 90]


def crop_frac(img, f):  # remove a fraction f of width and of height, split randomly between the sides
    h, w = img.shape[:2]
    dx, dy = int(round(w * f)), int(round(h * f))
    x0, y0 = int(rng.integers(0, dx + 1)), int(rng.integers(0, dy + 1))
    return img[y0:y0 + h - dy, x0:x0 + w - dx]


def rotate(img, deg):
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def gamma(img, g):
    lut = np.clip(((np.arange(256) / 255.0) ** g) * 255 + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(img, lut)


def caption(img):
    m = img.copy()
    s = max(0.5, m.shape[1] / 700)
    cv2.putText(m, "Holiday 2019 - IMG_4711", (m.shape[1] // 25, m.shape[0] - m.shape[0] // 20),
                cv2.FONT_HERSHEY_SIMPLEX, s, (255, 255, 255), max(1, int(s * 2)), cv2.LINE_AA)
    return m


def watermark(img):
    over = img.copy()
    s = max(1.0, img.shape[1] / 250)
    cv2.putText(over, "(c) irbis", (img.shape[1] // 8, img.shape[0] // 2), cv2.FONT_HERSHEY_SIMPLEX, s,
                (255, 255, 255), max(2, int(s * 2.5)), cv2.LINE_AA)
    return cv2.addWeighted(img, 0.6, over, 0.4, 0)


def noise(img, sigma):
    return np.clip(img.astype(np.float32) + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def resize(img, f):
    return cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


def gray(img):
    return cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


# name, expect, function -> (image, ext, imwrite params)
EDITS = [
    ("jpeg-q20", "near", lambda m: (m, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 20])),
    ("jpeg-q50", "near", lambda m: (m, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 50])),
    ("jpeg-q90", "near", lambda m: (m, ".jpg", JPG)),
    ("resize-25", "near", lambda m: (resize(m, 0.25), ".jpg", JPG)),
    ("resize-60", "near", lambda m: (resize(m, 0.6), ".jpg", JPG)),
    ("resize-200", "near", lambda m: (resize(m, 2.0), ".jpg", JPG)),
    ("bright+40", "near", lambda m: (cv2.convertScaleAbs(m, alpha=1.0, beta=40), ".jpg", JPG)),
    ("contrast-1.4", "near", lambda m: (cv2.convertScaleAbs(m, alpha=1.4, beta=-50), ".jpg", JPG)),
    ("gamma-0.6", "near", lambda m: (gamma(m, 0.6), ".jpg", JPG)),
    ("gamma-1.6", "near", lambda m: (gamma(m, 1.6), ".jpg", JPG)),
    ("crop-2", "near", lambda m: (crop_frac(m, 0.02), ".jpg", JPG)),
    ("crop-5", "near", lambda m: (crop_frac(m, 0.05), ".jpg", JPG)),
    ("crop-10", "near", lambda m: (crop_frac(m, 0.10), ".jpg", JPG)),
    ("rotate-2", "near", lambda m: (rotate(m, 2), ".jpg", JPG)),
    ("rotate-5", "near", lambda m: (rotate(m, -5), ".jpg", JPG)),
    ("blur-1", "near", lambda m: (cv2.GaussianBlur(m, (0, 0), 1.0), ".jpg", JPG)),
    ("blur-3", "near", lambda m: (cv2.GaussianBlur(m, (0, 0), 3.0), ".jpg", JPG)),
    ("noise-10", "near", lambda m: (noise(m, 10), ".jpg", JPG)),
    ("caption", "near", lambda m: (caption(m), ".jpg", JPG)),
    ("watermark", "near", lambda m: (watermark(m), ".jpg", JPG)),
    ("png", "near", lambda m: (m, ".png", [cv2.IMWRITE_PNG_COMPRESSION, 1])),
    ("webp-q75", "near", lambda m: (m, ".webp", [cv2.IMWRITE_WEBP_QUALITY, 75])),
    ("grayscale", "near", lambda m: (gray(m), ".jpg", JPG)),
    ("x-flip", "cnn", lambda m: (cv2.flip(m, 1), ".jpg", JPG)),
    ("x-rotate-90", "cnn", lambda m: (cv2.rotate(m, cv2.ROTATE_90_COUNTERCLOCKWISE), ".jpg", JPG)),
    ("x-crop-40", "cnn", lambda m: (crop_frac(m, 0.40), ".jpg", JPG)),
]

rows = list(csv.DictReader(open(os.path.join(sample, "truth.csv"))))
originals = [r["path"] for r in rows if r["expect"] == "original"]
os.makedirs(os.path.join(sample, "calib"), exist_ok=True)
new = []
k = 0
for o in originals:
    img = cv2.imread(os.path.join(sample, o), cv2.IMREAD_COLOR)
    base = os.path.splitext(os.path.basename(o))[0]
    for _ in range(min(K, len(EDITS))):
        name, expect, fn = EDITS[k % len(EDITS)]
        k += 1
        m, ext, prm = fn(img)
        p = f"calib/{base}-{name}{ext}"
        if not cv2.imwrite(os.path.join(sample, p), m, prm):
            sys.exit(f"cannot write {p}")
        new.append({"path": p, "original": o, "transform": name, "expect": expect})
with open(os.path.join(sample, "truth_calib.csv"), "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=["path", "original", "transform", "expect"])
    w.writeheader()
    w.writerows(rows + new)
print(f"{len(originals)} originals, {len(new)} new edits, {len(rows) + len(new)} files in truth_calib.csv")
