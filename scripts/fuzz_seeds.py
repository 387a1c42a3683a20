#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (fuzz/*.cpp) into OUT/<target>/, generated here
(nothing binary is committed): small images of every format and variant the decoders handle, the
same kind of synthetic photos the unit tests use, Exif blocks, classifier files, model cards,
TF.js models and label CSVs. Deterministic. Usage: fuzz_seeds.py OUT"""
import io, json, os, struct, sys, zlib

import numpy as np
from PIL import Image, TiffImagePlugin
import cv2

out = sys.argv[1]


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def photo(w, h, seed):
    """Smooth gradients plus a few shapes, like tests/test_util.cpp's synthetic_photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) * 127 // max(w + h - 2, 1))], -1)
    img = img.astype(np.uint8)
    for _ in range(3):
        cx, cy, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(2, max(3, w // 3)))
        cv2.circle(img, (cx, cy), r, tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
    return img


def pil_bytes(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def cv_bytes(ext, img, params=()):
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok
    return buf.tobytes()


def exif_block(orientation, extra=True):
    e = Image.Exif()
    e[0x0112] = orientation
    if extra:
        e[0x010F] = "irbis"                     # Make
        e[0x0132] = "2024:01:02 03:04:05"       # DateTime
    return e.tobytes()  # b"Exif\0\0" + TIFF structure


rgb = photo(32, 24, 1)
bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
pil = Image.fromarray(rgb)
images = {
    "baseline.jpg": cv_bytes(".jpg", bgr),
    "progressive.jpg": cv_bytes(".jpg", bgr, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
    "gray.jpg": cv_bytes(".jpg", cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)),
    "cmyk.jpg": pil_bytes(pil.convert("CMYK"), "JPEG"),
    "exif6.jpg": pil_bytes(pil, "JPEG", exif=exif_block(6)),
    "rgb.png": cv_bytes(".png", bgr),
    "rgba.png": cv_bytes(".png", cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)),
    "gray16.png": cv_bytes(".png", (cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)),
    "rgb16.png": cv_bytes(".png", bgr.astype(np.uint16) * 257),
    "palette.png": pil_bytes(pil.convert("P"), "PNG"),
    "exif3.png": pil_bytes(pil, "PNG", exif=exif_block(3)),
    "lossy.webp": cv_bytes(".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, 80]),
    "lossless.webp": pil_bytes(pil, "WEBP", lossless=True),
    "alpha.webp": pil_bytes(pil.convert("RGBA"), "WEBP"),
    "exif8.webp": pil_bytes(pil, "WEBP", exif=exif_block(8)),
    "rgb.bmp": cv_bytes(".bmp", bgr),
    "palette.bmp": pil_bytes(pil.convert("P"), "BMP"),
    "gray.bmp": pil_bytes(pil.convert("L"), "BMP"),
    "rgba.bmp": pil_bytes(pil.convert("RGBA"), "BMP"),
    "raw.tiff": pil_bytes(pil, "TIFF"),
    "deflate.tiff": pil_bytes(pil, "TIFF", compression="tiff_adobe_deflate"),
    "lzw.tiff": pil_bytes(pil, "TIFF", compression="tiff_lzw"),
    "packbits.tiff": pil_bytes(pil.convert("L"), "TIFF", compression="packbits"),
    "rgb16.tiff": cv_bytes(".tiff", bgr.astype(np.uint16) * 257),
    "float.tiff": cv_bytes(".tiff", bgr.astype(np.float32) / 255),
    "orient5.tiff": pil_bytes(pil, "TIFF", tiffinfo={274: 5}),
    "still.gif": pil_bytes(pil.convert("P"), "GIF"),
}
frames = [Image.fromarray(photo(32, 24, s)).convert("P") for s in range(3)]
g = io.BytesIO()
frames[0].save(g, "GIF", save_all=True, append_images=frames[1:], transparency=0, duration=50, loop=0)
images["animated.gif"] = g.getvalue()
g = io.BytesIO()
Image.fromarray(photo(16, 12, 4)).convert("P").save(g, "GIF", interlace=True)
images["interlaced.gif"] = g.getvalue()

# Formats of issue 19, made by Debian's encoders as tests/io/formats_test.cpp makes them (heif-enc,
# avifenc, cjxl, ImageMagick's convert), small so each execution stays fast; an encoder that is not
# installed only leaves its seeds out. Also two JPEGs back to back (an MPO without its MP index).
import shutil, subprocess, tempfile
with tempfile.TemporaryDirectory() as tmp:
    cv2.imwrite(os.path.join(tmp, "src.png"), bgr)
    cv2.imwrite(os.path.join(tmp, "src.jpg"), bgr)
    cv2.imwrite(os.path.join(tmp, "alpha.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    for out_name, cmd in (("a.heic", "heif-enc -q 50 -o a.heic src.jpg"),
                          ("alpha.heic", "heif-enc -q 50 -o alpha.heic alpha.png"),
                          ("a.avif", "avifenc -s 10 -j 1 src.png a.avif"),
                          ("irot.avif", "avifenc -s 10 -j 1 --irot 1 --imir 1 src.png irot.avif"),
                          ("recompressed.jxl", "cjxl src.jpg recompressed.jxl --quiet"),
                          ("pixels.jxl", "cjxl src.png pixels.jxl -d 1 --num_threads 0 --quiet"),
                          ("alpha.jxl", "cjxl alpha.png alpha.jxl -d 1 --num_threads 0 --quiet"),
                          ("a.ppm", "convert src.png a.ppm"), ("plain.ppm", "convert src.png -compress none plain.ppm"),
                          ("deep.ppm", "convert src.png -depth 16 deep.ppm"),
                          ("a.pgm", "convert src.png -colorspace gray a.pgm"),
                          ("a.pbm", "convert src.png -threshold 50% a.pbm"), ("alpha.pam", "convert alpha.png alpha.pam")):
        if shutil.which(cmd.split()[0]) and subprocess.run(cmd, shell=True, cwd=tmp, capture_output=True).returncode == 0:
            images[out_name] = open(os.path.join(tmp, out_name), "rb").read()
images["two.mpo"] = images["exif6.jpg"] + images["baseline.jpg"]
# F8's regression seeds: a HEIF and an AVIF whose ispe box declares another size than the coded frame.
for src in ("a.heic", "a.avif"):
    if src not in images:
        continue
    for name, (w, h) in (("ispe_small." + src[2:], (2, 2)), ("ispe_large." + src[2:], (4000, 3000))):
        b = bytearray(images[src])
        at = b.find(b"ispe") + 8
        b[at:at + 8] = struct.pack(">II", w, h)
        images[name] = bytes(b)

# AV1 items inside a HEIF file (not AVIF: libheif and its dav1d plugin decode them, not libavif):
# heif-enc -A's output with its brands made HEIF's, and a 1600x900 AV1 frame under an ispe of 32x24,
# refused from its sequence header before decoding (Formats.HeifAv1FrameOverItsDeclaredAreaIsRefused...).
def avif_branded_heif(b):
    b = bytearray(b)
    ftyp = struct.unpack(">I", b[:4])[0]
    for pos in range(8, ftyp - 3, 4):
        if b[pos:pos + 4] == b"avif":
            b[pos:pos + 4] = b"mif1"
    return bytes(b)


if shutil.which("heif-enc"):
    with tempfile.TemporaryDirectory() as tmp:
        cv2.imwrite(os.path.join(tmp, "src.png"), bgr)
        cv2.imwrite(os.path.join(tmp, "wide.png"), cv2.resize(bgr, (1600, 900), interpolation=cv2.INTER_LINEAR))
        for name, cmd in (("a_av1.heif", "heif-enc -A -q 50 -o a.avif src.png"),
                          ("av1_frame_over_ispe.heif", "heif-enc -A -q 10 -o a.avif wide.png")):
            if subprocess.run(cmd, shell=True, cwd=tmp, capture_output=True).returncode == 0:
                b = bytearray(avif_branded_heif(open(os.path.join(tmp, "a.avif"), "rb").read()))
                if name.startswith("av1_frame_over"):
                    at = b.find(b"ispe") + 8
                    b[at:at + 8] = struct.pack(">II", 32, 24)
                images[name] = bytes(b)

# F9's regression seed (found by fuzz_decode): a '#' touching the width, which OpenCV's reader takes
# as the width's terminator and Netpbm's as a comment, so the two read different sizes.
images["comment_touching_width.pbm"] = b"P4\n4#2\n32\n" + b"\xff" * 4
# F10's regression seed (found by fuzz_header): a JPEG XL codestream declaring ysize 2^30 at the 2:1
# ratio, so a width of 2^31, past an int.
images["side_over_int.jxl"] = b"\xff\x0a\xfe\xff\xff\xff\x1f" + b"\x00" * 16
# Inputs a fuzzer found that cannot be rebuilt from an encoder's output, kept as files
# (fuzz/regressions/, also read by the unit tests): F11's HEIC grid whose canvas is larger than its
# ispe, the same grid under an elongated ispe (32x8192: within the side limit, not the area),
# F12's iden item derived from a non-image item.
# Files directly in fuzz/regressions/ are images; a subfolder holds another target's inputs
# (fuzz/regressions/tfjs/: F18's graph model, model.json and weights.bin joined by a NUL byte).
regressions = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "regressions")
for name in sorted(os.listdir(regressions)):
    path = os.path.join(regressions, name)
    if os.path.isdir(path):
        for sub in sorted(os.listdir(path)):
            put(name, "regression_" + sub, open(os.path.join(path, sub), "rb").read())
    else:
        images[name] = open(path, "rb").read()
for name, data in images.items():
    put("decode", name, data)
    put("header", name, data)
    if name.endswith(".tiff"):
        put("tiff_ifd", name, data)
    if name.endswith(".gif"):
        put("gif", name, data)

# Exif blocks (TIFF structure without the "Exif\0\0" prefix) for the Exif and IFD walkers.
for o in range(1, 9):
    block = exif_block(o, extra=o % 2 == 0)[6:]
    put("exif", f"orientation{o}", block)
    put("tiff_ifd", f"exif{o}", block)

# Classifier files from byte 12 on (the target writes magic and version, and the checksum).
for k, d in ((2, 3), (3, 5)):
    header = json.dumps({"embedding_model": "mobilenet_v2_mid", "embedding_sha256": "0" * 64, "input": "full",
                         "classes": [f"c{i}" for i in range(k)], "dim": d,
                         "kind": "multinomial_logistic_regression", "report": {"seed": 1}}).encode()
    floats = np.arange(2 * d + k * d + k, dtype=np.float32).tobytes()
    put("classifier", f"k{k}_d{d}", struct.pack("<IQ", 0, len(header)) + header + floats)

# Model cards, as ModelCard::to_json writes them.
card = {"card_version": 1, "name": "tiny", "architecture": "mobilenet_v2",
        "source": {"kind": "tfjs", "package": "", "version": "", "path": "/x", "license": "MIT"},
        "onnx": {"file": "tiny.onnx", "sha256": "ab" * 32},
        "input": {"tensor": "input", "size": 224, "color_order": "RGB", "pixel_scale": 1 / 255,
                  "mean": [0, 0, 0], "std": [1, 1, 1]},
        "blocks": [{"name": "pool", "tensor": "t_pool", "dim": 8}, {"name": "mid", "tensor": "t_mid", "dim": 4}],
        "descriptor": {"blocks": ["pool", "mid"]}, "semantic_block": "pool",
        "outputs": [{"name": "probabilities", "tensor": "t_prob", "dim": 5}], "embedding_dim": 12}
put("model_card", "tiny.json", json.dumps(card, indent=1))
card2 = dict(card, outputs=[], semantic_block="mid", descriptor={"blocks": ["mid"]}, embedding_dim=4)
put("model_card", "no_outputs.json", json.dumps(card2))

# TF.js: a small Keras functional model (input, conv, relu, pool, dense, softmax) and its weights.
def layer(cls, name, cfg, inbound):
    cfg = dict(cfg, name=name)
    return {"class_name": cls, "name": name, "config": cfg,
            "inbound_nodes": [[[i, 0, 0, {}] for i in inbound]] if inbound else []}
layers = [
    layer("InputLayer", "input", {"batch_input_shape": [None, 8, 8, 3], "dtype": "float32"}, []),
    layer("Conv2D", "conv", {"filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
                             "activation": "relu", "use_bias": True, "dilation_rate": [1, 1]}, ["input"]),
    layer("GlobalAveragePooling2D", "pool", {}, ["conv"]),
    layer("Dense", "dense", {"units": 2, "activation": "softmax", "use_bias": True}, ["pool"]),
]
weights = [("conv/kernel", [3, 3, 3, 4]), ("conv/bias", [4]), ("dense/kernel", [4, 2]), ("dense/bias", [2])]
model = {"format": "layers-model", "modelTopology": {"model_config": {"class_name": "Model", "config": {
    "layers": layers, "input_layers": [["input", 0, 0]], "output_layers": [["dense", 0, 0]]}}},
    "weightsManifest": [{"paths": ["weights.bin"], "weights": [
        {"name": n, "shape": s, "dtype": "float32"} for n, s in weights]}]}
wbytes = b"".join(np.linspace(-1, 1, int(np.prod(s)), dtype=np.float32).tobytes() for _, s in weights)
put("tfjs", "layers", json.dumps(model).encode() + b"\0" + wbytes)
q = json.loads(json.dumps(model))
for w in q["weightsManifest"][0]["weights"]:
    w["quantization"] = {"dtype": "uint8", "min": -1.0, "scale": 2 / 255}
put("tfjs", "layers_uint8", json.dumps(q).encode() + b"\0" + bytes(range(256))[: sum(int(np.prod(s)) for _, s in weights)] * 1)
graph = {"format": "graph-model", "modelTopology": {"node": [
    {"name": "input", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [{"size": "1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}}, "dtype": {"type": "DT_FLOAT"}}},
    {"name": "w", "op": "Const", "attr": {"value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "3"}, {"size": "3"}, {"size": "3"}, {"size": "4"}]}}}, "dtype": {"type": "DT_FLOAT"}}},
    {"name": "conv", "op": "Conv2D", "input": ["input", "w"], "attr": {"strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": {"s": "U0FNRQ=="}, "data_format": {"s": "TkhXQw=="}, "dilations": {"list": {"i": ["1", "1", "1", "1"]}}}},
    {"name": "relu", "op": "Relu", "input": ["conv"]},
    {"name": "axes", "op": "Const", "attr": {"value": {"tensor": {"dtype": "DT_INT32", "tensorShape": {"dim": [{"size": "2"}]}}}}},
    {"name": "mean", "op": "Mean", "input": ["relu", "axes"], "attr": {"keep_dims": {"b": False}}},
    {"name": "sm", "op": "Softmax", "input": ["mean"]}]},
    "weightsManifest": [{"paths": ["weights.bin"], "weights": [
        {"name": "w", "shape": [3, 3, 3, 4], "dtype": "float32"}, {"name": "axes", "shape": [2], "dtype": "int32"}]}]}
gw = np.linspace(-1, 1, 108, dtype=np.float32).tobytes() + np.array([1, 2], dtype=np.int32).tobytes()
put("tfjs", "graph", json.dumps(graph).encode() + b"\0" + gw)

# Label CSVs (header path,label; quotes; unknown and relative paths).
put("labels_csv", "simple.csv", "path,label\n/pics/cats/a.jpg,cat\n/pics/dogs/b.png,dog\n")
put("labels_csv", "quoted.csv", 'label,path,extra\ncat,"/pics/cats/d e,""f"".jpg",1\n,rel/c.gif,\nbird,/nope.jpg,x\n')
# File names: ASCII, UTF-8 (2-4 byte sequences), Latin-1 bytes, a lone surrogate, overlongs.
for i, name in enumerate([b"/pics/a.jpg", "/fotos/año/café.png".encode(),
                          "/写真/猫.jpg".encode(), "/emoji/🐈.gif".encode(), b"/latin1/caf\xe9.jpg",
                          b"\xed\xa0\x80", b"\xc0\xaf\xe0\x80\xaf", b"\xf4\x90\x80\x80"]):
    put("display_path", f"name{i}", name)
# The server: uploads are the decoder's images; request fields are value, Host, Origin,
# Sec-Fetch-Site, Range, method (one per line).
for name, data in images.items():
    put("server_upload", name, data)
for i, fields in enumerate([
        ["50", "127.0.0.1:8080", "", "", "", "GET"],
        ["9223372036854775807", "localhost:8080", "http://localhost:8080", "same-origin", "bytes=0-99", "POST"],
        ["-1", "evil.example", "http://evil.example", "cross-site", "bytes=0-,0-,0-", "POST"],
        ["0007", "[::1]:8080", "null", "same-site", "bytes=-5", "PUT"],
        ["99999999999999999999", "[::1", "", "", "", "HEAD"]]):
    put("server_params", f"req{i}", "\n".join(fields))

# vector_index (fuzz/vector_index.cpp): byte 0 picks the file. 0 = an HNSW graph of 4-float vectors
# built with M = 4, in hnswlib 0.6.2's saveIndex layout (src/search/index_files.h), written field
# by field here; 1 = a PCA file projecting 8 to 4 dimensions (irbis's own layout); 2 below.
def hnsw_graph(n, upper):
    M, dim = 4, 4
    links0 = 2 * M * 4 + 4
    label_offset = links0 + dim * 4
    per = label_offset + 8
    rng = np.random.default_rng(n)
    head = struct.pack("<QQQQQQiIQQQdQ", 0, n, n, per, label_offset, links0, 1 if upper else 0, 0,
                       M, 2 * M, M, 1 / np.log(M), 200)
    level0 = b""
    for i in range(n):
        nb = [j for j in range(n) if j != i][: 2 * M]
        level0 += struct.pack("<I", len(nb)) + b"".join(struct.pack("<I", j) for j in nb)
        level0 += b"\0" * (4 * (2 * M - len(nb)))
        level0 += rng.standard_normal(dim).astype("<f4").tobytes() + struct.pack("<Q", 100 + i)
    tail = b""
    for i in range(n):
        if upper and i < 2:  # elements 0 and 1 on level 1, linked to each other
            tail += struct.pack("<I", M * 4 + 4) + struct.pack("<I", 1) + struct.pack("<I", 1 - i) + b"\0" * (4 * (M - 1))
        else:
            tail += struct.pack("<I", 0)
    return head + level0 + tail


put("vector_index", "graph1", b"\0" + hnsw_graph(1, False))
put("vector_index", "graph6", b"\0" + hnsw_graph(6, False))
put("vector_index", "graph12_levels", b"\0" + hnsw_graph(12, True))
pca = np.random.default_rng(8).standard_normal(4 * 8 + 4).astype("<f4")
put("vector_index", "pca8to4", b"\1" + b"IRBISPCA" + struct.pack("<III", 1, 8, 4) + pca.tobytes())
# 2 = a saved self-join (read_knn): header, then every row's min(k, rows - 1) (i32 row, f32
# similarity), best first; the target fixes up the digest (bytes 32..39).
def knn_file(rows, k, key):
    per = max(0, min(rows - 1, k))
    body = b""
    for q in range(rows):
        others = [r for r in range(rows) if r != q][:per]
        body += b"".join(struct.pack("<if", r, 0.9 - 0.1 * j) for j, r in enumerate(others))
    return b"IRBISKNN" + struct.pack("<IIQQQ", 1, k, rows, key, 0) + body


put("vector_index", "knn5x3", b"\2" + knn_file(5, 3, 77))
put("vector_index", "knn1", b"\2" + knn_file(1, 10, 5))
put("vector_index", "knn12x10", b"\2" + knn_file(12, 10, 123456789))
print(f"fuzz seeds written to {out}: " + ", ".join(f"{t} {len(os.listdir(os.path.join(out, t)))}" for t in sorted(os.listdir(out))))
