#!/usr/bin/env node
// Unwraps the browserified TF.js model modules shipped in the nsfwjs npm package into plain
// files: <out>/<name>/model.json ({format, modelTopology, weightsManifest, ...}) and
// <out>/<name>/weights.bin (all shards joined in the manifest's `paths` order).
//   node scripts/unwrap_tfjs.js <package/dist/models dir> <out dir> [name ...]
'use strict';
const fs = require('fs');
const path = require('path');

function unwrap(srcDir, outDir, name) {
  const dir = path.resolve(srcDir, name);
  const model = require(path.join(dir, 'model.min.js'));
  if (!model || !model.modelTopology || !model.weightsManifest)
    throw new Error(`${dir}/model.min.js: no modelTopology/weightsManifest`);
  const chunks = [];
  const manifest = [];
  for (const group of model.weightsManifest) {
    for (const p of group.paths) {
      // "group1-shard1of2" or "group1-shard1of2.bin": the module is <stem>.min.js
      const stem = p.replace(/\.bin$/, '').replace(/\.min\.js$/, '');
      const b64 = require(path.join(dir, stem + '.min.js'));
      if (typeof b64 !== 'string') throw new Error(`${dir}/${stem}.min.js: not a base64 string`);
      chunks.push(Buffer.from(b64, 'base64'));
    }
    manifest.push({paths: ['weights.bin'], weights: group.weights});
  }
  const weights = Buffer.concat(chunks);
  let expected = 0;
  for (const g of model.weightsManifest)
    for (const w of g.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const bytes = {uint8: 1, uint16: 2, float32: 4}[(w.quantization || {}).dtype || w.dtype];
      expected += n * bytes;
    }
  if (expected !== weights.length)
    throw new Error(`${name}: manifest describes ${expected} bytes, shards hold ${weights.length}`);
  const out = path.join(outDir, name);
  fs.mkdirSync(out, {recursive: true});
  const json = Object.assign({}, model, {weightsManifest: manifest});
  fs.writeFileSync(path.join(out, 'weights.bin.tmp'), weights);
  fs.writeFileSync(path.join(out, 'model.json.tmp'), JSON.stringify(json));
  fs.renameSync(path.join(out, 'weights.bin.tmp'), path.join(out, 'weights.bin'));
  fs.renameSync(path.join(out, 'model.json.tmp'), path.join(out, 'model.json'));
  console.log(`unwrap_tfjs: ${name}: ${weights.length} weight bytes -> ${out}`);
}

const [srcDir, outDir, ...names] = process.argv.slice(2);
if (!srcDir || !outDir) {
  console.error('usage: unwrap_tfjs.js <package/dist/models> <out dir> [name ...]');
  process.exit(1);
}
const list = names.length ? names
    : fs.readdirSync(srcDir).filter(n => fs.existsSync(path.join(srcDir, n, 'model.min.js')));
for (const n of list) unwrap(srcDir, outDir, n);
