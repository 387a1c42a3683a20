#!/usr/bin/env bash
# Fetches the pretrained weights at install time (never at run time): `npm pack nsfwjs@4.3.0`
# into models/cache, verifies the tarball against models/nsfwjs-4.3.0.sha256 (committed), and
# unwraps the browserified TF.js modules into models/tfjs/<name>/{model.json,weights.bin}.
# Idempotent: a verified tarball and already-unwrapped models are not fetched/unwrapped again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PKG=nsfwjs
VER=4.3.0
CACHE=$ROOT/models/cache
TFJS=$ROOT/models/tfjs
TGZ=$CACHE/$PKG-$VER.tgz
SUM_FILE=$ROOT/models/$PKG-$VER.sha256
MODELS=(mobilenet_v2_mid mobilenet_v2 inception_v3)

command -v node >/dev/null || { echo "fetch_models: node is required (apt-get install nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "fetch_models: npm is required (apt-get install npm)" >&2; exit 1; }
mkdir -p "$CACHE" "$TFJS"

want=$(awk '{print $1}' "$SUM_FILE")
verify() { [ -f "$TGZ" ] && [ "$(sha256sum "$TGZ" | awk '{print $1}')" = "$want" ]; }

all_done=1
for m in "${MODELS[@]}"; do
  [ -s "$TFJS/$m/model.json" ] && [ -s "$TFJS/$m/weights.bin" ] || all_done=0
done
# The stamp records which verified tarball the unwrapped files came from.
if [ $all_done = 1 ] && [ "$(cat "$TFJS/.source" 2>/dev/null)" = "$PKG@$VER $want" ]; then
  echo "fetch_models: $PKG@$VER already unwrapped in models/tfjs"
  exit 0
fi

if ! verify; then
  echo "fetch_models: npm pack $PKG@$VER"
  rm -f "$TGZ"
  (cd "$CACHE" && npm pack --silent "$PKG@$VER" >/dev/null) ||
    { echo "fetch_models: npm pack $PKG@$VER failed (is the npm registry reachable?)" >&2; exit 1; }
  if ! verify; then
    got=$(sha256sum "$TGZ" 2>/dev/null | awk '{print $1}')
    echo "fetch_models: checksum mismatch for $TGZ: expected $want, got ${got:-nothing}" >&2
    rm -f "$TGZ"
    exit 1
  fi
fi
echo "fetch_models: $TGZ sha256 ok"

EXTRACT=$CACHE/$PKG-$VER
rm -rf "$EXTRACT" && mkdir -p "$EXTRACT"
tar xzf "$TGZ" -C "$EXTRACT"
node "$ROOT/scripts/unwrap_tfjs.js" "$EXTRACT/package/dist/models" "$TFJS" "${MODELS[@]}"
echo "$PKG@$VER $want" > "$TFJS/.source"
rm -rf "$EXTRACT"
