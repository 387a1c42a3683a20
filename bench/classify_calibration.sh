#!/usr/bin/env bash
# Calibration of `irbis train`'s saved probabilities (issue 17): for each labelled collection and
# seeds 1-3, the default train (CV picks input and penalty, 30 % test split) and the test split's
# expected calibration error and log-loss at temperature 1 and at the saved temperature, with the
# fitted temperature and whether it was kept (docs/classify.md, "Temperature scaling"), and the test
# ECE a refused T > 1 would have given.
# Usage: bench/classify_calibration.sh [build-dir] COLLECTION.irbis...   (labels: parent folders)
set -euo pipefail
BUILD=build
if [ -d "${1:-}" ] && [ -x "$1/irbis" ]; then BUILD=$1; shift; fi
IRBIS="$BUILD/irbis"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "machine: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
for coll in "$@"; do
  for seed in 1 2 3; do
    t0=$(date +%s.%N)
    "$IRBIS" train "$coll" --labels folders --seed "$seed" --json --out "$TMP/c.clf" > "$TMP/r.json"
    t1=$(date +%s.%N)
    /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); t = d["test"]; c = d.get("calibration", {})
print("%s seed %s: input %s, l2 %g, test acc %.3f; T %.3f (fitted %.3f, %s; "
      "out-of-fold log-loss %.3f at 1, %.3f cross-fitted); test ECE %.3f -> %.3f (%s at the fitted T), "
      "log-loss %.3f -> %.3f; train %.0f s" % (
  sys.argv[2], sys.argv[3], d["input"], d["l2"], t["accuracy"], d["temperature"], c.get("fitted_temperature", 1),
  "kept" if c.get("accepted") else "not kept", c.get("oof_log_loss_uncalibrated", 0), c.get("oof_log_loss_cross_fitted", 0),
  t["ece_uncalibrated"], t["ece"], "%.3f" % t["ece_at_fitted_temperature"] if "ece_at_fitted_temperature" in t else "-",
  t["log_loss_uncalibrated"], t["log_loss"], float(sys.argv[4])))' \
      "$TMP/r.json" "$coll" "$seed" "$(echo "$t1 - $t0" | bc)"
  done
done
