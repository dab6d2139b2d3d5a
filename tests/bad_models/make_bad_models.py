"""Writes small ONNX files the converter must refuse, each with a clear error.

Run with Debian's Python: /usr/bin/python3 tests/bad_models/make_bad_models.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(graph, name, opset=13, check=True):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="edgemtl-tests")
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name))


def dense_input(name, width):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", width])


def main():
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "weight")

    # An op outside the supported set (CumSum), named so the error can name it.
    save(helper.make_graph(
        [helper.make_node("MatMul", ["x", "weight"], ["h"], name="first_layer"),
         helper.make_node("CumSum", ["h", "axis"], ["y"], name="running_total")],
        "unsupported_op", [dense_input("x", 4)], [dense_input("y", 3)],
        initializer=[weight, numpy_helper.from_array(np.array(1, dtype=np.int64), "axis")]),
        "unsupported_op.onnx")

    # A supported op used across the row dimension: a transpose that moves rows.
    save(helper.make_graph(
        [helper.make_node("MatMul", ["x", "weight"], ["h"], name="first_layer"),
         helper.make_node("Transpose", ["h"], ["y"], perm=[1, 0], name="rows_to_columns")],
        "rows_transposed", [dense_input("x", 4)], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, "batch"])],
        initializer=[weight]),
        "rows_transposed.onnx")

    # Split sizes far beyond the axis (4 columns): a converter that expands
    # them into index lists before checking them allocates terabytes.
    save(helper.make_graph(
        [helper.make_node("Split", ["x", "sizes"], ["a", "b"], axis=1, name="split_columns")],
        "split_sizes", [dense_input("x", 4)], [dense_input("a", 2), dense_input("b", 2)],
        initializer=[numpy_helper.from_array(np.array([1 << 40, 1 << 40], dtype=np.int64), "sizes")]),
        "split_sizes.onnx")

    # An initializer whose dims multiply past 2^63 (and whose data is empty,
    # which a wrapped product would match). The checker would refuse it too.
    huge = TensorProto(name="weight", data_type=TensorProto.FLOAT, dims=[1 << 32, 1 << 32], raw_data=b"")
    save(helper.make_graph(
        [helper.make_node("MatMul", ["x", "weight"], ["y"], name="first_layer")],
        "initializer_dims", [dense_input("x", 4)], [dense_input("y", 3)], initializer=[huge]),
        "initializer_dims.onnx", check=False)


if __name__ == "__main__":
    main()
