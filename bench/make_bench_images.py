#!/usr/bin/env python3
"""Make N distinct ~1-megapixel JPEGs (default 1200x900) for the index benchmark.

Sources: the real photographs `irbis sample` collects (SRC/photos/*.jpg, tiles excluded).
Each output is a different random 4:3 crop (position, scale 35..100 % of the largest 4:3 window),
optionally mirrored, with a small brightness/contrast/colour change, resized to WxH and given
mild sensor-like noise (sigma 2.5) so the JPEG entropy is closer to a camera photo than a
smooth upscale would be. Saved as JPEG quality 90 (4:2:0). Deterministic (seeded).
usage: make_bench_images.py SRC_SAMPLE_DIR OUT_DIR [N=1000] [W=1200] [H=900]
"""
import glob, os, sys
import numpy as np
import cv2

src, out = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
W = int(sys.argv[4]) if len(sys.argv) > 4 else 1200
H = int(sys.argv[5]) if len(sys.argv) > 5 else 900
paths = sorted(p for p in glob.glob(os.path.join(src, "photos", "*.jpg")) if "-tile" not in p)
photos = [cv2.imread(p, cv2.IMREAD_COLOR) for p in paths]
photos = [p for p in photos if p is not None]
assert len(photos) >= 4, "run `irbis sample` first"
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(12345)
for i in range(n):
    img = photos[i % len(photos)]
    h, w = img.shape[:2]
    # largest 4:3 window, then a random scale and position
    ww, hh = (w, int(w * 3 / 4)) if w * 3 / 4 <= h else (int(h * 4 / 3), h)
    s = rng.uniform(0.35, 1.0)
    cw, ch = max(32, int(ww * s)), max(24, int(hh * s))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    crop = img[y:y + ch, x:x + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    interp = cv2.INTER_AREA if cw > W else cv2.INTER_CUBIC
    m = cv2.resize(crop, (W, H), interpolation=interp).astype(np.float32)
    gain = rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    m = m * gain + rng.uniform(-15, 15)
    m += rng.normal(0, 2.5, size=m.shape).astype(np.float32)
    m = np.clip(m, 0, 255).astype(np.uint8)
    cv2.imwrite(os.path.join(out, f"img{i:05d}.jpg"), m, [cv2.IMWRITE_JPEG_QUALITY, 90])
print(f"wrote {n} images {W}x{H} to {out} from {len(photos)} photos")
