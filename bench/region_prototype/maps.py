#!/usr/bin/env python3
"""Prototype for issue 14 item 3 (crop-proof region descriptors), step 1: the feature maps of every
image of a Copydays-style set (bench/make_copydays_set.py), computed with cv2.dnn on irbis's ONNX
file with irbis's preprocessing (area squash to 224 px, RGB, 1/255).

usage: maps.py SET MODEL.onnx OUT.npz
OUT.npz: paths, family, edit (from SET/truth.csv) and, per image,
  conv1  MobilenetV2/Conv_1/Relu6        1792 x 7 x 7   (the map the feature_vector block averages)
  ec13   expanded_conv_13/expand/Relu6    816 x 14 x 14 (a descriptor block, pooled)
  ec8    expanded_conv_8/add               88 x 14 x 14 (a descriptor block, pooled)
  fv     feature_vector/SpatialSqueeze   1792           (checked: = mean of conv1)
"""
import csv, sys
import numpy as np, cv2

root, onnx, out = sys.argv[1:4]
net = cv2.dnn.readNetFromONNX(onnx)
P = ("StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/"
     "StatefulPartitionedCall/predict/")
names = {"conv1": "onnx_node!" + P + "MobilenetV2/Conv_1/Relu6",  # not a graph output: OpenCV's node name
         "ec13": P + "MobilenetV2/expanded_conv_13/expand/Relu6",
         "ec8": P + "MobilenetV2/expanded_conv_8/add",
         "fv": P + "feature_vector/SpatialSqueeze"}
cv2.setNumThreads(2)
rows = list(csv.DictReader(open(root + "/truth.csv")))
feats = {k: [] for k in names}
for r in rows:
    im = cv2.cvtColor(cv2.imread(root + "/" + r["path"], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    x = cv2.resize(im, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    net.setInput(x.transpose(2, 0, 1)[None].copy(), "input")
    for k, o in zip(names, net.forward(list(names.values()))):
        feats[k].append(o[0].astype(np.float32))
feats = {k: np.stack(v) for k, v in feats.items()}
print("max |mean(conv1) - feature_vector|:", float(np.abs(feats["conv1"].mean(axis=(2, 3)) - feats["fv"]).max()))
np.savez(out, paths=np.array([r["path"] for r in rows]), family=np.array([r["family"] for r in rows]),
         edit=np.array([r["edit"] for r in rows]), **feats)
