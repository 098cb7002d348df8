"""Write a small ONNX model in memory, for OpenCV's dnn module to run.

The frame network (``frame_net.py``) needs convolutions and poolings with
different sizes along and across the track, which OpenCV's Darknet reader
cannot express. ONNX can, and
``cv2.dnn.readNetFromONNX`` reads it from a buffer; but the ``onnx`` package
is not something a QGIS user has. An ONNX file is a protocol-buffers message,
and the few message types a feed-forward graph needs are encoded here by hand
(field numbers from onnx.proto), so the weights can stay in a plain ``.npz``
and nothing new has to be installed.
"""

from __future__ import annotations

from typing import Iterable, Sequence, Union

import numpy as np

IR_VERSION = 6
OPSET = 11
_FLOAT = 1  # TensorProto.DataType.FLOAT
_ATTR_INT, _ATTR_STRING, _ATTR_INTS = 2, 3, 7


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field_int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _field_bytes(number: int, value: Union[bytes, str]) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint((number << 3) | 2) + _varint(len(data)) + data


def attr_ints(name: str, values: Iterable[int]) -> bytes:
    return b"".join([_field_bytes(1, name)] + [_field_int(8, int(v)) for v in values] + [_field_int(20, _ATTR_INTS)])


def attr_int(name: str, value: int) -> bytes:
    return _field_bytes(1, name) + _field_int(3, int(value)) + _field_int(20, _ATTR_INT)


def attr_string(name: str, value: str) -> bytes:
    return _field_bytes(1, name) + _field_bytes(4, value) + _field_int(20, _ATTR_STRING)


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str], attributes: Sequence[bytes] = ()) -> bytes:
    """A NodeProto: ``op_type`` reads ``inputs`` and writes ``outputs``."""
    return b"".join([_field_bytes(1, i) for i in inputs] + [_field_bytes(2, o) for o in outputs]
                    + [_field_bytes(4, op_type)] + [_field_bytes(5, a) for a in attributes])


def tensor(name: str, values: np.ndarray) -> bytes:
    """A float32 TensorProto (an initializer: weights, biases, constants)."""
    arr = np.ascontiguousarray(values, np.float32)
    return b"".join([_field_int(1, d) for d in arr.shape]
                    + [_field_int(2, _FLOAT), _field_bytes(8, name), _field_bytes(9, arr.astype("<f4").tobytes())])


def value_info(name: str, dims: Sequence[Union[int, str]]) -> bytes:
    """A graph input or output: float32 of ``dims`` (a str is a free dimension)."""
    shape = b"".join(_field_bytes(1, _field_int(1, d) if isinstance(d, int) else _field_bytes(2, d)) for d in dims)
    tensor_type = _field_int(1, _FLOAT) + _field_bytes(2, shape)
    return _field_bytes(1, name) + _field_bytes(2, _field_bytes(1, tensor_type))


def model(nodes: Sequence[bytes], initializers: Sequence[bytes], inputs: Sequence[bytes],
          outputs: Sequence[bytes], name: str = "graph") -> bytes:
    """A serialised ModelProto holding one graph."""
    graph = b"".join([_field_bytes(1, n) for n in nodes] + [_field_bytes(2, name)]
                     + [_field_bytes(5, t) for t in initializers]
                     + [_field_bytes(11, v) for v in inputs] + [_field_bytes(12, v) for v in outputs])
    opset = _field_bytes(1, "") + _field_int(2, OPSET)
    return _field_int(1, IR_VERSION) + _field_bytes(8, opset) + _field_bytes(7, graph)
