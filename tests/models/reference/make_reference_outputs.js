#!/usr/bin/env node
// Produces the reference outputs that nsfwjs 4.3.0's own models give, in node, with the pure-JS
// TF.js CPU backend (@tensorflow/tfjs 4.22.0, no native library), for the fixture inputs in
// inputs/*.png (8-bit RGB, 299x299; the MobileNets get the central 224x224 crop).
//   cd tests/models/reference && npm ci && node make_reference_outputs.js
// Writes outputs.json (layout) and outputs.f32 (little-endian float32 values). The models are
// loaded through nsfwjs.load() from the package's own bundled modules, independent of irbis's
// unwrapper and importer. Preprocessing is nsfwjs's: value / 255, no resize at these sizes.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const nsfwjs = require('nsfwjs');
const {PNG} = require('pngjs');

const MID = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/' +
    'StatefulPartitionedCall/StatefulPartitionedCall/predict/';
// For each model: the nsfwjs name, input size, and the tensors compared. `pool` means the
// tensor is NHWC and is averaged over H and W here (as irbis's embedder does).
const MODELS = [
  {name: 'mobilenet_v2_mid', nsfw: 'MobileNetV2Mid', size: 224, graph: true, tensors: [
    {name: 'expanded_conv_8/add', tensor: MID + 'MobilenetV2/expanded_conv_8/add', pool: true},
    {name: 'expanded_conv_13/expand/Relu6', tensor: MID + 'MobilenetV2/expanded_conv_13/expand/Relu6', pool: true},
    {name: 'feature_vector/SpatialSqueeze', tensor: MID + 'feature_vector/SpatialSqueeze', pool: false},
    {name: 'probabilities', tensor: 'Identity', pool: false},
  ]},
  {name: 'mobilenet_v2', nsfw: 'MobileNetV2', size: 224, graph: false, tensors: [
    {name: 'flatten_1', tensor: 'flatten_1', pool: false},
    {name: 'probabilities', tensor: 'dense_3', pool: false},
  ]},
  {name: 'inception_v3', nsfw: 'InceptionV3', size: 299, graph: false, tensors: [
    {name: 'flatten_1', tensor: 'flatten_1', pool: false},
    {name: 'probabilities', tensor: 'dense_3', pool: false},
  ]},
];

function loadInput(file, size) {
  const png = PNG.sync.read(fs.readFileSync(file));
  const off = (png.width - size) >> 1;
  const rgb = new Int32Array(size * size * 3);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      for (let c = 0; c < 3; c++)
        rgb[(y * size + x) * 3 + c] = png.data[((y + off) * png.width + (x + off)) * 4 + c];
  return tf.tensor3d(rgb, [size, size, 3], 'int32');
}

async function main() {
  await tf.setBackend('cpu');
  const here = __dirname;
  const images = fs.readdirSync(path.join(here, 'inputs')).filter(f => f.endsWith('.png')).sort();
  const values = [];
  const layout = {producer: `nsfwjs 4.3.0, @tensorflow/tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}`,
                  crop: 'central size x size of the 299x299 input', images, models: []};
  for (const m of MODELS) {
    const t0 = Date.now();
    const nsfw = await nsfwjs.load(m.nsfw, {size: m.size, type: m.graph ? 'graph' : undefined});
    const model = nsfw.model;
    let run;
    if (m.graph) {
      run = x => model.execute(x, m.tensors.map(t => t.tensor));
    } else {
      const sub = tf.model({inputs: model.inputs, outputs: m.tensors.map(t => model.getLayer(t.tensor).output)});
      run = x => sub.predict(x);
    }
    const entry = {name: m.name, input_size: m.size, tensors: []};
    for (const t of m.tensors) entry.tensors.push({name: t.name, tensor: t.tensor, pooled: t.pool, offsets: []});
    for (const img of images) {
      const outs = tf.tidy(() => {
        const x = loadInput(path.join(here, 'inputs', img), m.size).toFloat().div(255)
            .reshape([1, m.size, m.size, 3]);
        let ys = run(x);
        if (!Array.isArray(ys)) ys = [ys];
        return ys.map((y, i) => (m.tensors[i].pool ? y.mean([1, 2]) : y).reshape([-1]));
      });
      for (let i = 0; i < outs.length; i++) {
        const v = outs[i].dataSync();
        entry.tensors[i].dim = v.length;
        entry.tensors[i].offsets.push(values.length);
        for (const f of v) values.push(f);
        outs[i].dispose();
      }
    }
    layout.models.push(entry);
    console.log(`${m.name}: ${images.length} images in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  fs.writeFileSync(path.join(here, 'outputs.f32'), Buffer.from(new Float32Array(values).buffer));
  fs.writeFileSync(path.join(here, 'outputs.json'), JSON.stringify(layout, null, 1) + '\n');
  console.log(`wrote ${values.length} floats`);
}
main().catch(e => { console.error(e); process.exit(1); });
