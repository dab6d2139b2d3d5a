"""Writes ONNX files with graph-level errors (a cycle, a missing initializer)
that onnx.checker itself would refuse, so they are encoded here by hand
(protobuf wire format, standard library only).

Run: python3 tests/bad_models/make_graph_errors.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, value):
    """A protobuf field: ints as varints, bytes/str as length-delimited."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(number << 3 | 2) + varint(len(value)) + value


def node(op_type, inputs, outputs, name):
    return b"".join([field(1, i) for i in inputs] + [field(2, o) for o in outputs] + [field(3, name), field(4, op_type)])


def float_value(name, width):
    dims = field(1, field(2, "batch")) + field(1, field(1, width))
    tensor_type = field(1, 1) + field(2, dims)  # FLOAT, [batch, width]
    return field(1, name) + field(2, field(1, tensor_type))


def model(nodes, inputs, outputs, name):
    graph = b"".join([field(1, n) for n in nodes] + [field(2, name)] +
                     [field(11, float_value(*i)) for i in inputs] + [field(12, float_value(*o)) for o in outputs])
    opset = field(1, "") + field(2, 13)
    return field(1, 7) + field(2, "edgemtl-tests") + field(7, graph) + field(8, opset)


def main():
    # h = x + g, g = relu(h): the two nodes feed each other.
    cycle = model([node("Add", ["x", "g"], ["h"], "add_loop"), node("Relu", ["h"], ["g"], "relu_loop")],
                  [("x", 4)], [("g", 4)], "cycle")
    # MatMul on a weight that is neither an input nor an initializer.
    missing = model([node("MatMul", ["x", "weight"], ["y"], "uses_missing_weight"), node("Sigmoid", ["y"], ["p"], "p")],
                    [("x", 4)], [("p", 1)], "missing_initializer")
    for name, data in [("cycle.onnx", cycle), ("missing_initializer.onnx", missing)]:
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
