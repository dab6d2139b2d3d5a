#!/usr/bin/python3
"""Dynamic int8 quantisation of an ONNX model for ONNX Runtime, as ONNX
Runtime's own quantize_dynamic does for its MatMul/Gemm (that tool is not in
Debian): every Gemm (transB = 1) or MatMul with a constant 2-D weight becomes

    x_q, x_scale, x_zp = DynamicQuantizeLinear(x)           (uint8, per call)
    acc = MatMulInteger(x_q, W_q, x_zp, w_zp)                 (int32)
    y   = Cast(acc, float) * (x_scale * w_scale) [+ bias]

with W_q int8 symmetric (w_zp = 0): one scale per tensor (quantize_dynamic's
default) or, with --per-channel, one per output column. Embedding Gathers stay
f32. The result goes to bench/compare.py's "ONNX Runtime int8" column.

    /usr/bin/python3 bench/quantize_dynamic.py IN.onnx OUT.onnx [--per-channel]
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto


def weight_of(node, initializers):
    """(W [K, N] as float32, bias or None) for a quantisable Gemm/MatMul, else None."""
    if len(node.input) < 2 or node.input[1] not in initializers:
        return None
    w = numpy_helper.to_array(initializers[node.input[1]]).astype(np.float32)
    if w.ndim != 2:
        return None
    if node.op_type == "MatMul":
        return w, None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("transA", 0) != 0 or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        return None
    if attrs.get("transB", 0) == 1:
        w = w.T
    bias = None
    if len(node.input) > 2 and node.input[2]:
        if node.input[2] not in initializers:
            return None
        bias = numpy_helper.to_array(initializers[node.input[2]]).astype(np.float32)
    return np.ascontiguousarray(w), bias


def quantize(model, per_channel):
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    nodes, added, done = [], [], 0
    for node in graph.node:
        found = weight_of(node, initializers) if node.op_type in ("Gemm", "MatMul") else None
        if found is None:
            nodes.append(node)
            continue
        w, bias = found
        prefix = f"dq{done}_"
        absmax = np.abs(w).max(axis=0) if per_channel else np.array(np.abs(w).max())
        w_scale = np.where(absmax > 0, absmax / 127.0, 1.0).astype(np.float32)
        w_q = np.clip(np.rint(w / w_scale), -127, 127).astype(np.int8)
        w_zp = np.zeros(w_scale.shape, np.int8)
        added += [numpy_helper.from_array(w_q, prefix + "w_q"), numpy_helper.from_array(w_scale, prefix + "w_scale"),
                  numpy_helper.from_array(w_zp, prefix + "w_zp")]
        x = node.input[0]
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [x], [prefix + "x_q", prefix + "x_scale", prefix + "x_zp"]),
            helper.make_node("MatMulInteger", [prefix + "x_q", prefix + "w_q", prefix + "x_zp", prefix + "w_zp"],
                             [prefix + "acc"]),
            helper.make_node("Cast", [prefix + "acc"], [prefix + "acc_f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [prefix + "x_scale", prefix + "w_scale"], [prefix + "scale"]),
        ]
        product = prefix + "y" if bias is not None else node.output[0]
        nodes.append(helper.make_node("Mul", [prefix + "acc_f", prefix + "scale"], [product]))
        if bias is not None:
            added.append(numpy_helper.from_array(bias, prefix + "bias"))
            nodes.append(helper.make_node("Add", [product, prefix + "bias"], [node.output[0]]))
        done += 1
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(added)
    # Drop the f32 weights nothing reads any more.
    used = {i for n in graph.node for i in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return done


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--per-channel", action="store_true", help="one weight scale per output column")
    args = parser.parse_args()
    model = onnx.load(args.input)
    count = quantize(model, args.per_channel)
    if count == 0:
        sys.exit(f"{args.input}: no Gemm or MatMul with a constant 2-D weight")
    onnx.checker.check_model(model)
    onnx.save(model, args.output)
    print(f"{args.output}: {count} layers quantised dynamically", file=sys.stderr)


if __name__ == "__main__":
    main()
