"""One binary value per payload: an array and what it means, in one Dict trait or message.

ipywidgets lifts every ``memoryview`` inside a Dict trait (or a message's content) out into a
binary buffer and puts it back in place in the browser, as a ``DataView``: so data and meta
arrive together, in one state update, never as two traits that may change in either order
(bqplot's ``array_to_json`` does the same). ``js/shared/arrays.js`` reads these values.

A value is ``{"value": memoryview, "dtype": "float32", "shape": [...], **meta}``; named arrays
packed in one buffer are ``{"value": memoryview, "arrays": {name: {"offset", "dtype",
"shape"}}, **meta}`` (each array 4-byte aligned). The empty value ``{}`` means "nothing yet".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

DTYPES = ("uint8", "int32", "float32")
"""The dtypes the browser reads (``js/shared/arrays.js``)."""


def array_value(array: npt.ArrayLike, dtype: str = "float32", **meta: Any) -> dict[str, Any]:
    """One array as a trait value: C-order little-endian bytes, its dtype and shape, and meta.

    Example:
        >>> v = array_value(np.arange(6).reshape(2, 3), "uint8", kind="probability")
        >>> bytes(v["value"]), v["dtype"], v["shape"], v["kind"]
        (b'\\x00\\x01\\x02\\x03\\x04\\x05', 'uint8', [2, 3], 'probability')
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} cannot be read by the browser; use one of {DTYPES}")
    data = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<"))
    return {"value": data.reshape(-1).view(np.uint8).data, "dtype": dtype,
            "shape": list(data.shape), **meta}  # fmt: skip


def packed_value(arrays: Mapping[str, npt.ArrayLike], **meta: Any) -> dict[str, Any]:
    """Named arrays in one buffer, each starting 4-byte aligned: uint8 arrays stay one byte
    per value, other integer (and bool) arrays become int32, the rest float32.

    Example:
        >>> v = packed_value({"a": np.ones(2), "b": np.arange(3, dtype=np.int32)}, step=4)
        >>> v["arrays"], v["step"], len(v["value"])
        ({'a': {'offset': 0, 'dtype': 'float32', 'shape': [2]}, \
'b': {'offset': 8, 'dtype': 'int32', 'shape': [3]}}, 4, 20)
        >>> v = packed_value({"w": np.arange(3, dtype=np.uint8), "s": np.ones(1, np.float32)})
        >>> v["arrays"]["s"], len(v["value"])
        ({'offset': 4, 'dtype': 'float32', 'shape': [1]}, 8)
    """
    layout: dict[str, dict[str, Any]] = {}
    parts: list[bytes] = []
    offset = 0
    for name, item in arrays.items():
        source = np.asarray(item)
        if source.dtype == np.uint8:
            dtype = "uint8"
        elif np.issubdtype(source.dtype, np.integer) or source.dtype == np.bool_:
            dtype = "int32"
        else:
            dtype = "float32"
        data = np.ascontiguousarray(source, dtype=np.dtype(dtype).newbyteorder("<"))
        layout[name] = {"offset": offset, "dtype": dtype, "shape": list(data.shape)}
        padding = -data.nbytes % 4
        parts += [data.tobytes(), b"\0" * padding]
        offset += data.nbytes + padding
    return {"value": memoryview(b"".join(parts)), "arrays": layout, **meta}


def read_array(value: Mapping[str, Any]) -> npt.NDArray[Any]:
    """The array of an ``array_value`` (what ``readArray`` gives the browser), read-only.

    Example:
        >>> read_array(array_value([[1.5, 2.0]], "float32", kind="x")).tolist()
        [[1.5, 2.0]]
    """
    dtype = value.get("dtype")
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not one of {DTYPES}")
    array: npt.NDArray[Any] = np.frombuffer(value["value"], dtype=np.dtype(dtype).newbyteorder("<"))
    shaped: npt.NDArray[Any] = array.reshape(value["shape"])
    return shaped


def read_packed(value: Mapping[str, Any]) -> dict[str, npt.NDArray[Any]]:
    """The named arrays of a ``packed_value`` (what ``readPackedValue`` gives the browser).

    Example:
        >>> arrays = read_packed(packed_value({"a": [1.5, 2.0], "b": np.arange(2)}))
        >>> arrays["a"].tolist(), arrays["b"].dtype.name
        ([1.5, 2.0], 'int32')
    """
    out: dict[str, npt.NDArray[Any]] = {}
    for name, item in value["arrays"].items():
        dtype = np.dtype(item["dtype"]).newbyteorder("<")
        count = int(np.prod(item["shape"], dtype=np.int64))
        array = np.frombuffer(value["value"], dtype=dtype, count=count, offset=item["offset"])
        out[name] = array.reshape(item["shape"])
    return out


def message_parts(value: Mapping[str, Any]) -> tuple[dict[str, Any], list[memoryview]]:
    """A value as a custom message: ``(content, [buffer])`` for ``widget.send``, which does
    not lift buffers out of the content (the browser puts it back: ``fromMessage``).

    Example:
        >>> content, buffers = message_parts(array_value([1, 2], "uint8", type="tile", id=3))
        >>> content, bytes(buffers[0])
        ({'dtype': 'uint8', 'shape': [2], 'type': 'tile', 'id': 3}, b'\\x01\\x02')
    """
    content = {key: item for key, item in value.items() if key != "value"}
    return content, [memoryview(value["value"])]
