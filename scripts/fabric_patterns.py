"""Procedural fabric patterns of the 11 classes of seed 003's fashion-texture set (argyle,
checkered, dotted, floral, herringbone, houndstooth, leopard, paisley, striped, tartan, zebra),
drawn with random colours, scale, angle and irregularity, then photographed badly: folds (smooth
displacement), uneven light, blur, noise, low resolution. Used by make_texture_set.py --kind fabric.
"""
import numpy as np, cv2

CLASSES = ["argyle", "checkered", "dotted", "floral", "herringbone", "houndstooth", "leopard",
           "paisley", "striped", "tartan", "zebra"]


def _colour(rng, dark=None):
    c = rng.uniform(0, 1, 3)
    if dark is True:
        c *= rng.uniform(0.05, 0.45)
    elif dark is False:
        c = 0.55 + 0.45 * c
    return c


def _grid(S, rng, period_lo, period_hi):
    """Rotated, scaled coordinates (u, v) in pattern periods."""
    a = rng.uniform(0, np.pi)
    p = rng.uniform(period_lo, period_hi)
    y, x = np.mgrid[0:S, 0:S].astype(np.float32) - S / 2
    u = (np.cos(a) * x + np.sin(a) * y) / p
    v = (-np.sin(a) * x + np.cos(a) * y) / p
    return u + rng.uniform(0, 1), v + rng.uniform(0, 1)


def _paint(mask_list, colours):
    out = np.zeros(mask_list[0].shape + (3,), np.float32)
    for m, c in zip(mask_list, colours):
        out += m[..., None].astype(np.float32) * c[None, None]
    return out


def _two(mask, rng):
    a, b = _colour(rng, True), _colour(rng, False)
    if rng.random() < 0.5:
        a, b = b, a
    return _paint([mask, 1 - mask], [a, b])


def striped(S, rng):
    u, _ = _grid(S, rng, 10, 40)
    n = int(rng.integers(2, 4))
    widths = rng.dirichlet(np.ones(n))
    f = np.mod(u, 1.0)
    edges = np.cumsum(widths)
    idx = np.searchsorted(edges, f)
    cols = [_colour(rng, i % 2 == 0) for i in range(n)]
    return np.stack(cols)[np.clip(idx, 0, n - 1)]


def checkered(S, rng):
    u, v = _grid(S, rng, 12, 40)
    return _two(((np.floor(u) + np.floor(v)) % 2).astype(np.float32), rng)


def tartan(S, rng):
    u, v = _grid(S, rng, 40, 90)
    n = int(rng.integers(3, 6))
    widths = rng.dirichlet(np.ones(n) * 0.8)
    cols = np.stack([_colour(rng) for _ in range(n)])
    edges = np.cumsum(widths)
    cu = cols[np.clip(np.searchsorted(edges, np.mod(u, 1.0)), 0, n - 1)]
    cv_ = cols[np.clip(np.searchsorted(edges, np.mod(v, 1.0)), 0, n - 1)]
    # twill weave: warp and weft alternate along diagonals
    y, x = np.mgrid[0:S, 0:S]
    twill = (((x + y) // 2) % 2).astype(np.float32)[..., None]
    return twill * cu + (1 - twill) * cv_ * 0.5 + (1 - twill) * cu * 0.5


HOUND = np.array([[1, 1, 1, 1, 0, 0, 0, 1], [1, 1, 1, 1, 0, 0, 1, 1], [1, 1, 1, 1, 0, 1, 1, 1],
                  [1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0, 0], [0, 1, 1, 1, 0, 0, 0, 0],
                  [0, 0, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0, 0]], np.float32)


def houndstooth(S, rng):
    u, v = _grid(S, rng, 14, 36)
    iu = (np.floor(np.mod(u, 1.0) * 8)).astype(int)
    iv = (np.floor(np.mod(v, 1.0) * 8)).astype(int)
    return _two(HOUND[iv, iu], rng)


def herringbone(S, rng):
    u, v = _grid(S, rng, 12, 30)
    col = np.floor(u)
    slope = np.where(col % 2 == 0, 1.0, -1.0)
    s = np.mod(v + slope * np.mod(u, 1.0) * rng.uniform(0.6, 1.2), 1.0 / 3) * 3
    return _two((s < rng.uniform(0.35, 0.6)).astype(np.float32), rng)


def argyle(S, rng):
    u, v = _grid(S, rng, 30, 70)
    ratio = rng.uniform(1.2, 1.8)
    fu, fv = np.mod(u, 1.0) - 0.5, np.mod(v * ratio, 1.0) - 0.5
    diamond = (np.abs(fu) + np.abs(fv) < 0.5).astype(np.float32)
    alt = (np.floor(u) + np.floor(v * ratio)) % 2
    a, b, c = _colour(rng), _colour(rng), _colour(rng, True)
    img = _paint([diamond * alt, diamond * (1 - alt), 1 - diamond], [a, b, c])
    # thin crossing lines
    lw = rng.uniform(0.02, 0.05)
    d1 = np.abs(np.mod(u + v * ratio, 1.0) - 0.5) < lw
    d2 = np.abs(np.mod(u - v * ratio, 1.0) - 0.5) < lw
    line = (d1 | d2)[..., None]
    return np.where(line, _colour(rng, False)[None, None], img)


def dotted(S, rng):
    u, v = _grid(S, rng, 14, 40)
    if rng.random() < 0.5:  # staggered rows
        u = u + 0.5 * (np.floor(v) % 2)
    r = rng.uniform(0.15, 0.35)
    d = np.hypot(np.mod(u, 1.0) - 0.5, np.mod(v, 1.0) - 0.5)
    return _two((d < r).astype(np.float32), rng)


def _blobs(S, rng, n, draw):
    img = np.zeros((S, S), np.float32)
    for _ in range(n):
        draw(img, rng.uniform(0, S), rng.uniform(0, S))
    return img


def leopard(S, rng):
    bg = np.array([0.75, 0.55, 0.25]) * rng.uniform(0.7, 1.2, 3)
    spot = np.array([0.15, 0.1, 0.05]) * rng.uniform(0.5, 1.5, 3)
    inner = bg * rng.uniform(0.6, 0.85)
    sc = rng.uniform(8, 18)
    ring = np.zeros((S, S), np.float32)
    core = np.zeros((S, S), np.float32)
    for _ in range(int(S * S / (sc * sc * 6))):
        cx, cy = rng.uniform(0, S), rng.uniform(0, S)
        ax = (sc * rng.uniform(0.7, 1.3), sc * rng.uniform(0.6, 1.1))
        ang = rng.uniform(0, 180)
        # broken ring: a few arcs
        for _ in range(int(rng.integers(2, 5))):
            a0 = rng.uniform(0, 360)
            cv2.ellipse(ring, (int(cx), int(cy)), (int(ax[0]), int(ax[1])), ang, a0, a0 + rng.uniform(50, 110), 1.0,
                        int(max(2, sc * 0.35)))
        cv2.ellipse(core, (int(cx), int(cy)), (int(ax[0] * 0.7), int(ax[1] * 0.7)), ang, 0, 360, 1.0, -1)
    img = np.ones((S, S, 3), np.float32) * bg
    img = np.where(core[..., None] > 0, inner, img)
    return np.where(ring[..., None] > 0, spot, img).astype(np.float32)


def zebra(S, rng):
    u, v = _grid(S, rng, 18, 40)
    warp = cv2.GaussianBlur(rng.normal(0, 1, (S, S)).astype(np.float32), (0, 0), S / 10)
    warp /= warp.std() + 1e-6
    f = np.sin(2 * np.pi * (u + rng.uniform(0.3, 0.9) * warp + 0.15 * np.sin(v * rng.uniform(0.5, 2))))
    mask = (f > rng.uniform(-0.3, 0.3)).astype(np.float32)
    dark, light = _colour(rng, True) * 0.4, 0.8 + 0.2 * _colour(rng, False)
    return _paint([mask, 1 - mask], [dark, light])


def floral(S, rng):
    bg = _colour(rng)
    img = np.ones((S, S, 3), np.float32) * bg
    sc = rng.uniform(10, 26)
    petal_c, centre_c, leaf_c = _colour(rng), _colour(rng), np.array([0.2, 0.5, 0.2]) * rng.uniform(0.5, 1.3, 3)
    for _ in range(int(S * S / (sc * sc * 8))):
        cx, cy = rng.uniform(0, S), rng.uniform(0, S)
        s = sc * rng.uniform(0.6, 1.3)
        n = int(rng.integers(5, 9))
        a0 = rng.uniform(0, 360)
        for k in range(2):
            ang = rng.uniform(0, 360)
            lx, ly = cx + 1.4 * s * np.cos(np.radians(ang)), cy + 1.4 * s * np.sin(np.radians(ang))
            cv2.ellipse(img, (int(lx), int(ly)), (int(s * 0.7), int(s * 0.3)), ang, 0, 360, leaf_c.tolist(), -1)
        for k in range(n):
            ang = a0 + 360 * k / n
            px, py = cx + 0.6 * s * np.cos(np.radians(ang)), cy + 0.6 * s * np.sin(np.radians(ang))
            cv2.ellipse(img, (int(px), int(py)), (int(s * 0.55), int(s * 0.28)), ang, 0, 360, petal_c.tolist(), -1)
        cv2.circle(img, (int(cx), int(cy)), int(s * 0.25), centre_c.tolist(), -1)
    return img


def paisley(S, rng):
    bg = _colour(rng)
    img = np.ones((S, S, 3), np.float32) * bg
    sc = rng.uniform(14, 30)
    cols = [_colour(rng) for _ in range(3)]
    t = np.linspace(0, 2 * np.pi, 60)
    for _ in range(int(S * S / (sc * sc * 7))):
        cx, cy = rng.uniform(0, S), rng.uniform(0, S)
        s = sc * rng.uniform(0.7, 1.3)
        ang = rng.uniform(0, 2 * np.pi)
        for j, f in enumerate((1.0, 0.7, 0.4)):
            # teardrop with a curled tip
            r = s * f * (1 - 0.5 * np.sin(t / 2) ** 8)
            x = r * np.cos(t) + s * f * 0.6 * np.sin(t / 2) ** 6
            y = r * np.sin(t) * 0.7 - s * f * 0.5 * np.sin(t / 2) ** 10
            xr = cx + x * np.cos(ang) - y * np.sin(ang)
            yr = cy + x * np.sin(ang) + y * np.cos(ang)
            pts = np.stack([xr, yr], 1).astype(np.int32)
            cv2.fillPoly(img, [pts], cols[j % 3].tolist())
            cv2.polylines(img, [pts], True, (cols[(j + 1) % 3] * 0.5).tolist(), 1)
        for k in range(8):  # dotted halo
            a = ang + 2 * np.pi * k / 8
            cv2.circle(img, (int(cx + 1.3 * s * np.cos(a)), int(cy + 1.3 * s * np.sin(a))), max(1, int(s * 0.08)),
                       cols[2].tolist(), -1)
    return img


DRAW = {"argyle": argyle, "checkered": checkered, "dotted": dotted, "floral": floral, "herringbone": herringbone,
        "houndstooth": houndstooth, "leopard": leopard, "paisley": paisley, "striped": striped, "tartan": tartan,
        "zebra": zebra}


def photograph(img, rng, size, difficulty):
    """Fabric folds, uneven light, blur, noise, a crop at a random scale, then size x size."""
    S = img.shape[0]
    d = difficulty
    # folds: smooth random displacement field
    dx = cv2.GaussianBlur(rng.normal(0, 1, (S, S)).astype(np.float32), (0, 0), S / 8)
    dy = cv2.GaussianBlur(rng.normal(0, 1, (S, S)).astype(np.float32), (0, 0), S / 8)
    amp = rng.uniform(2, 10) * d
    dx *= amp / (dx.std() + 1e-6)
    dy *= amp / (dy.std() + 1e-6)
    y, x = np.mgrid[0:S, 0:S].astype(np.float32)
    img = cv2.remap(img.astype(np.float32), x + dx, y + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # uneven light (shading of the folds)
    light = cv2.GaussianBlur(rng.normal(0, 1, (S, S)).astype(np.float32), (0, 0), S / 6)
    light = 1 + rng.uniform(0.1, 0.35) * d * light / (light.std() + 1e-6)
    img = img * light[..., None] * rng.uniform(0.6, 1.2)
    # crop at a random scale (pattern seen closer or farther)
    side = int(S * rng.uniform(1 - 0.5 * min(d, 1.5), 1.0))
    x0, y0 = int(rng.integers(0, S - side + 1)), int(rng.integers(0, S - side + 1))
    img = img[y0:y0 + side, x0:x0 + side]
    # low resolution, then blur and sensor noise
    low = int(size * rng.uniform(1 - 0.45 * min(d, 1.5), 1.0))
    img = cv2.resize(img, (low, low), interpolation=cv2.INTER_AREA)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.6:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.5) * d)
    img = img + rng.normal(0, rng.uniform(0.01, 0.06) * d, img.shape)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def fabric(cls, rng, size, difficulty):
    S = 256
    return photograph(DRAW[cls](S, rng), rng, size, difficulty)
