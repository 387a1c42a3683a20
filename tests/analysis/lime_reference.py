"""Independent reference of LIME's local model (Ribeiro et al. 2016, the `lime` package's
LimeImageExplainer defaults): sample weights from the cosine distance of each perturbation mask
to the unperturbed one, sqrt(exp(-d^2 / width^2)), then sklearn's Ridge with those sample
weights, fitted on every superpixel (lime's num_features = all). Used by lime_reference_test.cpp:

  lime_reference.py MASKS.npy SCORES.npy KERNEL_WIDTH RIDGE   prints {"intercept", "coef"} as JSON
"""
import json
import sys

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import pairwise_distances

masks = np.load(sys.argv[1]).astype(np.float64)
scores = np.load(sys.argv[2]).astype(np.float64).ravel()
width, alpha = float(sys.argv[3]), float(sys.argv[4])
distances = pairwise_distances(masks, masks[0].reshape(1, -1), metric="cosine").ravel()
weights = np.sqrt(np.exp(-(distances ** 2) / width ** 2))
model = Ridge(alpha=alpha, fit_intercept=True).fit(masks, scores, sample_weight=weights)
print(json.dumps({"intercept": float(model.intercept_), "coef": [float(c) for c in model.coef_]}))
