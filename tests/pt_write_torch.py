"""PyTorch reads what aapmt writes: every .pt file test_pt_write keeps (state
dicts of every dtype and shape, views, zip64, an empty dict) is loaded with
torch.load(path, weights_only=True) and compared bit for bit with its
safetensors twin, whose plain layout is read here by hand.

    /usr/bin/python3 tests/pt_write_torch.py BUILD/tests/test_pt_write OUT_DIR

Exits 77 (a skip for ctest) when this python cannot import torch; Debian's
python3-torch provides it."""
import json
import os
import struct
import subprocess
import sys
import zipfile

try:
    import torch
except ImportError as e:
    print(f"skip: {sys.executable} cannot import torch ({e}); install python3-torch")
    sys.exit(77)

# safetensors dtype -> (torch dtype, a same-size integer dtype to see its bits)
DTYPES = {
    "F32": (torch.float32, torch.int32), "F64": (torch.float64, torch.int64),
    "F16": (torch.float16, torch.int16), "BF16": (torch.bfloat16, torch.int16),
    "I32": (torch.int32, torch.int32), "I64": (torch.int64, torch.int64),
    "U8": (torch.uint8, torch.uint8),
}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n:]
    return {name: (e["dtype"], e["shape"], body[e["data_offsets"][0]:e["data_offsets"][1]])
            for name, e in header.items()}


def compare(pt_path, st_path):
    with zipfile.ZipFile(pt_path) as z:
        bad = z.testzip()
        assert bad is None, f"{pt_path}: CRC of {bad} is wrong"
    got = torch.load(pt_path, weights_only=True)
    want = read_safetensors(st_path)
    assert sorted(got) == sorted(want), f"{pt_path}: names {sorted(got)} != {sorted(want)}"
    for name, t in got.items():
        dtype, shape, raw = want[name]
        assert t.dtype == DTYPES[dtype][0], f"{pt_path}: {name}: {t.dtype}, not {dtype}"
        assert list(t.shape) == shape, f"{pt_path}: {name}: shape {list(t.shape)}, not {shape}"
        assert not t.requires_grad, f"{pt_path}: {name} requires grad"
        bits = t.contiguous().view(DTYPES[dtype][1]).numpy().tobytes()
        assert bits == raw, f"{pt_path}: {name}: the bytes differ"
    return len(got)


def main():
    writer, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        os.remove(os.path.join(out, name))
    subprocess.run([writer], check=True, env=dict(os.environ, AAPMT_PT_WRITE_OUT=out))
    files = sorted(n for n in os.listdir(out) if n.endswith(".pt"))
    assert files, f"{writer} wrote no .pt files into {out}"
    tensors = 0
    for name in files:
        tensors += compare(os.path.join(out, name), os.path.join(out, name[:-3] + ".safetensors"))
    print(f"torch {torch.__version__} read {len(files)} files, {tensors} tensors, all bit for bit")


if __name__ == "__main__":
    main()
