#!/usr/bin/python3
"""Calibration of `irbis issues` on a collection made from real photos of Debian packages.

Clean images: crops of the colour photos in opencv-doc and python3-skimage. Each issue type is
then made on other crops at several strengths (blur, darken, brighten, flatten, grey), and a few
out-of-place images are injected (a small group of three grayscale 28x28 digit thumbnails and
two single strays). Precision and recall per issue at the defaults, and
the rank of each injected image among the odd_one_out rows, are printed (docs/issues.md).

usage: bench/issues_calibration.py IRBIS_BINARY WORKDIR [--features hashes,cnn]
"""
import argparse
import collections
import csv
import io
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np

OPENCV = "/usr/share/doc/opencv-doc/examples/data"
SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
PHOTOS = [f"{OPENCV}/{n}" for n in (
    "aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "building.jpg", "butterfly.jpg",
    "chicky_512.png", "ela_original.jpg", "fruits.jpg", "home.jpg", "left.jpg", "leuvenA.jpg", "messi5.jpg",
    "orange.jpg", "rubberwhale1.png", "smarties.png", "squirrel_cls.jpg", "starry_night.jpg",
    "lena.jpg", "graf1.png", "pca_test1.jpg")] + [f"{SKIMAGE}/{n}" for n in (
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "retina.jpg",
    "ihc.png", "hubble_deep_field.jpg")]


def crops(img, n, rng):
    """n crops of 60-90 % of each side, shrunk so the long side is at most 400 px (never
    enlarged: an upscaled crop is soft, and would be a blurry "clean" image)."""
    h, w = img.shape[:2]
    out = []
    for _ in range(n):
        ch, cw = int(h * rng.uniform(0.6, 0.9)), int(w * rng.uniform(0.6, 0.9))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        c = img[y:y + ch, x:x + cw]
        s = min(1.0, 400 / max(ch, cw))
        out.append(cv2.resize(c, (round(cw * s), round(ch * s)), interpolation=cv2.INTER_AREA))
    return out


def blur(img, sigma):
    return cv2.GaussianBlur(img, (0, 0), sigma)


def darken(img, f):
    return np.clip(img.astype(np.float32) * f, 0, 255).astype(np.uint8)


def brighten(img, f):
    # Towards white: keeps the structure, lifts the darkest pixels.
    return np.clip(255 - (255 - img.astype(np.float32)) * f, 0, 255).astype(np.uint8)


def flatten(img, f):
    # Towards the mean colour: a near-blank image with faint structure.
    m = img.reshape(-1, 3).mean(0)
    return np.clip(m + (img.astype(np.float32) - m) * f, 0, 255).astype(np.uint8)


def grey(img, _):
    return cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


MAKERS = {
    "blurry": (blur, [2.0, 3.0, 5.0]),
    "dark": (darken, [0.08, 0.15, 0.22]),
    "bright": (brighten, [0.08, 0.15, 0.22]),
    "low_information": (flatten, [0.02, 0.04, 0.06]),
    "grayscale": (grey, [0]),
}


def make_collection(root, rng):
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    truth = collections.defaultdict(set)
    photos = [cv2.imread(p, cv2.IMREAD_COLOR) for p in PHOTOS if os.path.exists(p)]
    photos = [p for p in photos if p is not None]
    pool = []
    for p in photos:
        pool += crops(p, 6, rng)
    order = rng.permutation(len(pool))
    pool = [pool[i] for i in order]
    i = 0
    # Clean images: half the pool.
    n_clean = len(pool) // 2
    for k in range(n_clean):
        cv2.imwrite(f"{root}/clean_{k:03d}.jpg", pool[i], [cv2.IMWRITE_JPEG_QUALITY, 90])
        i += 1
    for issue, (fn, strengths) in MAKERS.items():
        per = max(1, (len(pool) - n_clean) // len(MAKERS) // len(strengths))
        for s in strengths:
            for k in range(per):
                name = f"{issue}_{s}_{k:02d}.jpg"
                cv2.imwrite(f"{root}/{name}", fn(pool[i], s), [cv2.IMWRITE_JPEG_QUALITY, 90])
                truth[issue].add(name)
                i += 1
    # Out-of-place images: a group of three 28x28 grayscale digits and two singles (a grayscale
    # text scan, a chessboard): five, which should fill the first five odd_one_out rows.
    digits = cv2.imread(f"{OPENCV}/digits.png", cv2.IMREAD_GRAYSCALE)
    for k, (y, x) in enumerate([(0, 0), (400, 500), (900, 1500)]):
        d = cv2.resize(digits[y:y + 20, x:x + 20], (28, 28), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(f"{root}/stray_digit_{k}.png", d)
        truth["odd_one_out"].add(f"stray_digit_{k}.png")
    for n, src in [("stray_text.png", f"{SKIMAGE}/text.png"), ("stray_chessboard.png", f"{OPENCV}/chessboard.png")]:
        shutil.copy(src, f"{root}/{n}")
        truth["odd_one_out"].add(n)
    return truth


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("irbis")
    ap.add_argument("workdir")
    ap.add_argument("--features", default="hashes,cnn")
    ap.add_argument("--seed", type=int, default=18)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    imgs = os.path.join(a.workdir, "images")
    coll = os.path.join(a.workdir, "calib.irbis")
    truth = make_collection(imgs, rng)
    shutil.rmtree(coll, ignore_errors=True)
    subprocess.run([a.irbis, "index", imgs, "--into", coll, "--features", a.features], check=True,
                   stdout=subprocess.DEVNULL)
    out = subprocess.run([a.irbis, "issues", coll, "--format", "json"], check=True, capture_output=True, text=True)
    res = json.loads(out.stdout)
    flagged = collections.defaultdict(list)
    for row in res["issues"]:
        flagged[row["issue"]].append(row["name"])
    n_images = res["images"]
    print(f"{n_images} images, embeddings used: {res['embeddings']}")
    print(f"{'issue':16s} {'truth':>5s} {'flagged':>7s} {'precision':>9s} {'recall':>6s}  threshold")
    summary = {s["issue"]: s for s in res["summary"]}
    ok = True
    for issue in list(MAKERS) + ["odd_one_out"]:
        t, f = truth[issue], set(flagged[issue])
        if issue == "grayscale":
            t = t | {n for n in truth["odd_one_out"]}  # the strays are grayscale too, by construction
        if issue == "low_information":
            # The strays are near-binary (digits, a chessboard, a text scan): low information by the
            # measure's own definition, but not made so; they count neither way.
            f = f - truth["odd_one_out"]
        tp = len(t & f)
        p = tp / len(f) if f else 1.0
        r = tp / len(t) if t else 1.0
        print(f"{issue:16s} {len(t):5d} {len(f):7d} {p:9.2f} {r:6.2f}  {summary[issue]['rule']}")
        if issue != "odd_one_out":
            ok &= p >= 0.9 and r >= 0.9
            for n in sorted(f - t)[:5]:
                print(f"   false positive: {n}")
            for n in sorted(t - f)[:5]:
                print(f"   missed: {n}")
    ranks = {n: i + 1 for i, n in enumerate(flagged["odd_one_out"])}
    print("odd_one_out rank of each injected image (of", len(flagged["odd_one_out"]), "rows):")
    for n in sorted(truth["odd_one_out"]):
        print(f"   {n}: {ranks.get(n, '-')}")
    for row in res["issues"]:
        if row["issue"] == "odd_one_out":
            print(f"   {row['name']}: {row['score']:.2f} {row['reason']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
