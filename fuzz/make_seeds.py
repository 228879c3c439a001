#!/usr/bin/env python3
"""Writes the small synthetic seeds under fuzz/corpus/ (safetensors and torch.save files) with the
standard library only, byte for byte as the reference writers lay them out. Run from anywhere;
the real files (goldens, the embedded model) are added at run time by scripts/fuzz.sh."""
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# name: (struct format of one element, element size)
DTYPES = {"BOOL": ("?", 1), "U8": ("B", 1), "I8": ("b", 1), "I16": ("h", 2), "F16": ("e", 2),
          "BF16": ("H", 2), "I32": ("i", 4), "F32": ("f", 4), "F64": ("d", 8), "I64": ("q", 8)}


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, values)] laid out in the given order."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, values in tensors:
        fmt, _ = DTYPES[dtype]
        raw = struct.pack("<%d%s" % (len(values), fmt), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def torch_save(tensors):
    """A torch.save zip (PyTorch >= 1.6) of a dict name -> float32 tensor: [(name, shape, values)]."""
    # Stand-ins with the names pickle records for torch's classes; only their names are written.
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    torch._utils = utils

    def _rebuild_tensor_v2(*args):
        raise NotImplementedError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    float_storage = type("FloatStorage", (), {"__module__": "torch"})
    torch.FloatStorage = float_storage
    sys.modules.update({"torch": torch, "torch._utils": utils})

    class Storage:
        def __init__(self, key, numel):
            self.key, self.numel = key, numel

    class Tensor:
        def __init__(self, storage, shape):
            self.storage, self.shape = storage, tuple(shape)

        def __reduce_ex__(self, protocol):
            stride = tuple(int(_prod(self.shape[i + 1:])) for i in range(len(self.shape)))
            return (_rebuild_tensor_v2, (self.storage, 0, self.shape, stride, False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", float_storage, obj.key, "cpu", obj.numel)
            return None

    state, records = {}, {}
    for i, (name, shape, values) in enumerate(tensors):
        state[name] = Tensor(Storage(str(i), len(values)), shape)
        records["archive/data/%d" % i] = struct.pack("<%df" % len(values), *values)
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(state)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        for name, raw in records.items():
            z.writestr(name, raw)
        z.writestr("archive/version", "3\n")
    return out.getvalue()


def _prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def write(harness, name, data):
    os.makedirs(os.path.join(CORPUS, harness), exist_ok=True)
    with open(os.path.join(CORPUS, harness, name), "wb") as f:
        f.write(data)


def main():
    every_dtype = [("t_" + d.lower(), d, [2], [1, 0] if d != "F16" and d != "F32" and d != "F64" else [1.5, -2.0])
                   for d in DTYPES]
    write("safetensors", "every_dtype.safetensors", safetensors(every_dtype, {"format": "pt"}))
    write("safetensors", "shapes.safetensors", safetensors(
        [("matrix", "F32", [2, 3], [0.5] * 6), ("scalar", "I64", [], [7]), ("empty", "F32", [0, 4], [])]))
    write("safetensors", "empty.safetensors", safetensors([]))
    write("torch_bin", "two_tensors.bin", torch_save(
        [("classifier.weight", [2, 3], [0.25] * 6), ("classifier.bias", [2], [0.0, 1.0])]))


if __name__ == "__main__":
    main()
