#!/usr/bin/env python3
"""FLOPs of one forward pass of an ONNX model (batch 1), counted from the graph.

Method: ONNX shape inference (python3-onnx) with the batch dimension fixed to 1 gives every
tensor's shape; then
  Conv:  MACs = N * Cout * Hout * Wout * (Cin / group) * kh * kw   (+ Cout*Hout*Wout bias adds)
  Gemm / MatMul: MACs = M * N * K
FLOPs = 2 x MACs (one multiply + one add). Element-wise ops (Clip/ReLU6, Add, Mul, Sub), pooling
and softmax are reported separately: they are memory-bound and conventionally not counted.
usage: onnx_flops.py MODEL.onnx [SIZE]   (SIZE: input height = width, default from the graph)
"""
import sys
from math import prod

import onnx
from onnx import shape_inference

path = sys.argv[1]
m = onnx.load(path)
g = m.graph
inits = {i.name: i for i in g.initializer}
inp = [i for i in g.input if i.name not in inits][0]
dims = inp.type.tensor_type.shape.dim
dims[0].ClearField("dim_param")
dims[0].dim_value = 1
if len(sys.argv) > 2:
    for d in dims[2:]:
        d.ClearField("dim_param")
        d.dim_value = int(sys.argv[2])
m = shape_inference.infer_shapes(m)
shapes = {}
for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
    s = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    if s and all(x > 0 for x in s):
        shapes[vi.name] = s
for i in inits.values():
    shapes[i.name] = list(i.dims)


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


conv_macs = gemm_macs = bias = elem = 0
dw_macs = pw_macs = other_conv_macs = 0
missing = []
counts = {}
for n in m.graph.node:
    counts[n.op_type] = counts.get(n.op_type, 0) + 1
    out = shapes.get(n.output[0])
    if n.op_type == "Conv":
        w = shapes[n.input[1]]
        if out is None:
            missing.append(n.name)
            continue
        group = attr(n, "group", 1)
        macs = prod(out) * w[1] * w[2] * w[3]
        conv_macs += macs
        if group > 1:
            dw_macs += macs
        elif w[2] == 1 and w[3] == 1:
            pw_macs += macs
        else:
            other_conv_macs += macs
        if len(n.input) > 2:
            bias += prod(out)
    elif n.op_type in ("Gemm", "MatMul"):
        a = shapes.get(n.input[0])
        b = shapes[n.input[1]]
        if out is None or a is None:
            missing.append(n.name)
            continue
        k = a[-1]
        gemm_macs += prod(out) * k
        if len(n.input) > 2:
            bias += prod(out)
    elif n.op_type in ("Clip", "Relu", "Add", "Mul", "Sub", "Sigmoid", "AveragePool", "MaxPool",
                       "GlobalAveragePool", "Softmax"):
        if out is not None:
            elem += prod(out)
macs = conv_macs + gemm_macs
print(f"model: {path}")
print(f"input: {[d.dim_value for d in dims]}")
print(f"ops: {dict(sorted(counts.items()))}")
print(f"conv MACs: {conv_macs / 1e6:.1f} M  (1x1 pointwise {pw_macs / 1e6:.1f} M, depthwise {dw_macs / 1e6:.1f} M,"
      f" other {other_conv_macs / 1e6:.1f} M)")
print(f"gemm MACs: {gemm_macs / 1e6:.2f} M")
print(f"total MACs: {macs / 1e6:.1f} M  ->  FLOPs (2 x MACs): {2 * macs / 1e9:.3f} GFLOP per image")
print(f"not counted: bias adds {bias / 1e6:.1f} M, element-wise/pool outputs {elem / 1e6:.1f} M")
if missing:
    print(f"WARNING: no shape for {len(missing)} nodes: {missing[:5]}")
