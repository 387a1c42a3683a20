#!/usr/bin/python3
"""Makes the fixture inputs (run once; the PNGs are committed): two photos from Debian's
opencv-doc package squashed to 299x299 with area averaging, plus one synthetic image (smooth
gradients and flat shapes), stored as lossless 8-bit RGB PNG. The 299 px image is Inception's
input; the MobileNets get its central 224x224 crop (rows and columns 37..260), so no resampler
takes part in the comparison."""
import os
import cv2
import numpy as np

SRC = "/usr/share/doc/opencv-doc/examples/data"
here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(os.path.join(here, "inputs"), exist_ok=True)

def save(name, bgr):
    out = os.path.join(here, "inputs", name + ".png")
    cv2.imwrite(out, bgr, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(out, os.path.getsize(out))

for name in ["fruits", "butterfly"]:
    img = cv2.imread(os.path.join(SRC, name + ".jpg"), cv2.IMREAD_COLOR)
    save(name, cv2.resize(img, (299, 299), interpolation=cv2.INTER_AREA))

y, x = np.mgrid[0:299, 0:299].astype(np.float32)
syn = np.stack([x / 298 * 255, y / 298 * 255, (1 - x / 298) * 160 + 40], axis=2).astype(np.uint8)
cv2.circle(syn, (150, 140), 70, (30, 200, 240), -1)
cv2.rectangle(syn, (20, 200), (120, 280), (200, 40, 60), -1)
cv2.line(syn, (0, 0), (298, 298), (255, 255, 255), 3)
save("synthetic", syn)
