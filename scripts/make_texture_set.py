#!/usr/bin/env python3
"""Texture-like labelled image set from real photos shipped with Debian packages
(skimage data: brick, grass, gravel; OpenCV samples: starry_night, smarties, baboon, building,
fruits, board, orange). Every crop is converted to grey and tinted with a random colour, so
colour gives no class away; scale, rotation, flips, blur and noise are jittered.

Crops for "train" come from the left 60 % of each source photo, crops for "heldout" from the
right 35 %, so the held-out set shares no pixels with the training set.

--kind fabric instead draws the 11 fashion-texture classes of seed 003 (argyle, checkered, dotted,
floral, herringbone, houndstooth, leopard, paisley, striped, tartan, zebra) procedurally
(fabric_patterns.py): every image is a new random pattern of its class, photographed with folds,
uneven light, blur, noise and low resolution (--difficulty scales these).

--kind terrain cuts real photographed ground textures (extremetuxracer-data's terrain photos, the
snow/ice/rock kind of seed 000) at their full resolution: 9 classes (soil, grass, ice, snow, rock,
paving, pebbles, snowy_ground, snowy_ice), each from 2-10 different source photos, crops of random
size (30-60 % of the photo's side, not resampled: the network sees the photo's own detail), rotated,
mirrored, with lighting (gain, gamma, white balance) varied; no added blur or noise. Train crops come
from the left 60 % of every source photo, held-out crops from the right 35 %; with --split source
the held-out crops of a class with >= 3 source photos come from every third photo instead, one the
training crops never saw (a new photo of the class: the harder, more realistic question).

usage: make_texture_set.py OUT_DIR [--kind photo|fabric|terrain] [--per-class N] [--heldout N] [--size PX]
                           [--seed S] [--difficulty D]
writes OUT_DIR/train/<class>/*.png and OUT_DIR/heldout/<class>/*.png
"""
import argparse, os, sys
import numpy as np, cv2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SK = "/usr/lib/python3/dist-packages/skimage/data"
CV = "/usr/share/doc/opencv-doc/examples/data"
ETR = "/usr/share/games/etr/terrains"  # Debian package extremetuxracer-data
TERRAIN = {
    "soil": ["dirt01", "floor01", "floor02", "mud01", "sand01"],
    "grass": ["grass01", "grass02", "grass03"],
    "ice": ["ice", "ice01", "ice02", "ice03"],
    "snow": ["snow", "snow01", "snow02", "snow03"],
    "rock": ["rock", "rock01", "rock02", "rock03", "rock04", "rock05", "rock06", "rock07"],
    "paving": ["pave01", "pave02", "icy_pave01"],
    "pebbles": ["pebbles01", "pebbles04"],
    "snowy_ground": ["icy_grass03", "icy_grass04", "snowy_grass03", "snowy_rock02", "snowy_rock06", "icy_rock06",
                     "pebbles05", "icy_floor01", "icy_pave04", "icy_pave05"],
    "snowy_ice": ["snowy_ice", "snowy_ice02", "snowy_ice03"],
}
SOURCES = {
    "brick": f"{SK}/brick.png", "grass": f"{SK}/grass.png", "gravel": f"{SK}/gravel.png",
    "starry_night": f"{CV}/starry_night.jpg", "smarties": f"{CV}/smarties.png",
    "baboon": f"{CV}/baboon.jpg", "building": f"{CV}/building.jpg", "fruits": f"{CV}/fruits.jpg",
    "board": f"{CV}/board.jpg", "orange": f"{CV}/orange.jpg",
}

def crop(img, x_lo, x_hi, size, rng):
    h, w = img.shape
    side = int(rng.uniform(0.18, 0.35) * min(h, w))
    x0 = int(rng.uniform(x_lo * w, max(x_lo * w, x_hi * w - side)))
    y0 = int(rng.uniform(0, h - side))
    c = img[y0:y0 + side, x0:x0 + side]
    c = cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA)
    k = int(rng.integers(0, 4))
    c = np.rot90(c, k)
    if rng.random() < 0.5:
        c = c[:, ::-1]
    if rng.random() < 0.3:
        c = cv2.GaussianBlur(c, (0, 0), rng.uniform(0.5, 1.2))
    c = c.astype(np.float32)
    c = (c - c.mean()) * rng.uniform(0.7, 1.3) + rng.uniform(90, 160)
    c += rng.normal(0, rng.uniform(2, 8), c.shape)
    tint = rng.uniform(0.6, 1.0, 3)
    out = np.clip(c[..., None] * tint[None, None], 0, 255).astype(np.uint8)
    return out

def terrain_crop(img, x_lo, x_hi, rng):
    """A crop at the photo's own resolution with the lighting changed (no resampling, blur or noise)."""
    h, w = img.shape[:2]
    side = int(rng.uniform(0.3, 0.6) * min(h, w))
    x0 = int(rng.uniform(x_lo * w, max(x_lo * w, x_hi * w - side)))
    x0 = min(x0, w - side)
    y0 = int(rng.uniform(0, h - side))
    c = np.rot90(img[y0:y0 + side, x0:x0 + side], int(rng.integers(0, 4)))
    if rng.random() < 0.5:
        c = c[:, ::-1]
    c = c.astype(np.float32) / 255
    c = np.power(c, rng.uniform(0.8, 1.25)) * rng.uniform(0.7, 1.2) * rng.uniform(0.92, 1.08, 3)[None, None]
    return np.clip(c * 255 + 0.5, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--heldout", type=int, default=20)
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kind", choices=["photo", "fabric", "terrain"], default="photo")
    ap.add_argument("--difficulty", type=float, default=1.0)
    ap.add_argument("--split", choices=["region", "source"], default="region")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    if a.kind == "fabric":
        import fabric_patterns
        for cls in fabric_patterns.CLASSES:
            for part, n in (("train", a.per_class), ("heldout", a.heldout)):
                d = os.path.join(a.out, part, cls)
                os.makedirs(d, exist_ok=True)
                for i in range(n):
                    img = fabric_patterns.fabric(cls, rng, a.size, a.difficulty)
                    cv2.imwrite(os.path.join(d, f"{i:03d}.png"), img[..., ::-1])
        return
    if a.kind == "terrain":
        for cls, names in TERRAIN.items():
            imgs = []
            for n in names:
                img = cv2.imread(f"{ETR}/{n}.png", cv2.IMREAD_COLOR)
                if img is None:
                    raise SystemExit(f"missing {ETR}/{n}.png (apt-get install extremetuxracer-data)")
                imgs.append(img)
            by_source = a.split == "source" and len(imgs) >= 3
            held = [im for k, im in enumerate(imgs) if k % 3 == 2] if by_source else imgs
            train = [im for k, im in enumerate(imgs) if k % 3 != 2] if by_source else imgs
            parts = (("train", a.per_class, train, 0.0, 1.0 if by_source else 0.6),
                     ("heldout", a.heldout, held, 0.0 if by_source else 0.65, 1.0))
            for part, n, srcs, lo, hi in parts:
                d = os.path.join(a.out, part, cls)
                os.makedirs(d, exist_ok=True)
                for i in range(n):  # every source photo in turn
                    cv2.imwrite(os.path.join(d, f"{i:03d}.png"), terrain_crop(srcs[i % len(srcs)], lo, hi, rng))
        return
    for cls, path in SOURCES.items():
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise SystemExit(f"missing {path}")
        for part, n, lo, hi in (("train", a.per_class, 0.0, 0.6), ("heldout", a.heldout, 0.65, 1.0)):
            d = os.path.join(a.out, part, cls)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                cv2.imwrite(os.path.join(d, f"{i:03d}.png"), crop(img, lo, hi, a.size, rng)[..., ::-1])

if __name__ == "__main__":
    main()
