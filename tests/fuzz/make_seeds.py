#!/usr/bin/python3
"""Writes the committed seed corpora (tests/fuzz/corpus/<target>/) from the
test fixtures, plus a few inputs made here: small, each target well under
the 1 MB total. Rerun after fixtures change; the fuzzers add their own finds
to a scratch corpus, never here. Needs Pillow (the /usr/bin/python3 with
torch has it) for the tiny JPEGs."""
import io
import json
import os
import shutil
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(ROOT, "tests", "fixtures")
CORPUS = os.path.join(HERE, "corpus")


def target(name):
    d = os.path.join(CORPUS, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def copy(src_dir, names, dst, max_bytes):
    for n in sorted(names):
        p = os.path.join(src_dir, n)
        if os.path.isfile(p) and os.path.getsize(p) <= max_bytes:
            shutil.copy(p, os.path.join(dst, n))


def write(dst, name, data):
    with open(os.path.join(dst, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# .pt: the small checkpoint fixtures (valid and each kind of damage), and
# the pickles inside two of them on their own, for the direct unpickler path.
ckpt = os.path.join(FIX, "checkpoint")
d = target("pt")
copy(ckpt, [n for n in os.listdir(ckpt) if n.endswith(".pt")], d, 5000)
for src in ("views.pt", "dtypes.pt", "nested.pt"):
    with zipfile.ZipFile(os.path.join(ckpt, src)) as z:
        pkl = [n for n in z.namelist() if n.endswith("data.pkl")][0]
        write(d, src.replace(".pt", ".pkl"), z.read(pkl))
# Zip damage the reader once misreported: a local header's name length of
# 0xffff, and an archive comment that holds an end record of its own.
raw = open(os.path.join(ckpt, "views.pt"), "rb").read()
write(d, "local_name_length.pt", raw[:26] + b"\xff\xff" + raw[28:])
fake = b"PK\x05\x06" + bytes(4) + b"\x01\x00\x01\x00" + (46).to_bytes(4, "little") + bytes(6) + b"comment"
write(d, "comment_with_end_record.pt", raw[:-2] + len(fake).to_bytes(2, "little") + fake)
# A state dict whose name holds a NUL byte: {"../\0": 1}.
nul_key = io.BytesIO()
with zipfile.ZipFile(nul_key, "w", zipfile.ZIP_STORED) as z:   # dated 1980, so reruns write the same bytes
    z.writestr(zipfile.ZipInfo("nul/data.pkl"), b"\x80\x02}X\x04\x00\x00\x00../\x00K\x01s.")
    z.writestr(zipfile.ZipInfo("nul/version"), b"3\n")
write(d, "nul_key.pt", nul_key.getvalue())

d = target("safetensors")
copy(ckpt, [n for n in os.listdir(ckpt) if n.endswith(".safetensors")], d, 5000)
# Names holding a NUL, escaped and raw (cJSON would cut both short at it).
entry = '{"dtype":"F32","shape":[1],"data_offsets":[%d,%d]}'
header = '{"w\\u0000a":%s,"w\\u0000b":%s}' % (entry % (0, 4), entry % (4, 8))
write(d, "nul_escaped_key.safetensors", struct.pack("<Q", len(header)) + header.encode() + bytes(8))
header = ('{"w\0a":%s}' % (entry % (0, 4))).encode()
write(d, "nul_raw_key.safetensors", struct.pack("<Q", len(header)) + header + bytes(4))

# Images: every small fixture (PNG, BMP, TGA, GIF, JPEG; valid and damaged),
# plus tiny JPEGs in each subsampling, so mutations stay cheap.
img = os.path.join(FIX, "image")
d = target("image")
copy(img, [n for n in os.listdir(img) if n.rsplit(".", 1)[-1] in ("png", "bmp", "tga", "gif", "jpg")], d, 6000)
from PIL import Image  # noqa: E402

small = Image.new("RGB", (13, 9))
for y in range(9):
    for x in range(13):
        small.putpixel((x, y), (x * 19, y * 28, (x * y) % 256))
for sub, name in ((0, "444"), (1, "422"), (2, "420")):
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=80, subsampling=sub)
    write(d, "tiny_%s.jpg" % name, buf.getvalue())
    if name == "420":   # the same with SOF9: arithmetic decoding of Huffman data
        data = buf.getvalue()
        sof = data.index(b"\xff\xc0")
        write(d, "tiny_sof9.jpg", data[:sof] + b"\xff\xc9" + data[sof + 2:])
for mode in ("L", "CMYK"):
    buf = io.BytesIO()
    small.convert(mode).save(buf, "JPEG", quality=80)
    write(d, "tiny_%s.jpg" % mode.lower(), buf.getvalue())
buf = io.BytesIO()
small.save(buf, "JPEG", quality=80, progressive=True)
write(d, "tiny_progressive.jpg", buf.getvalue())

# Tokenizer: the first byte picks max_len (2 + byte % 64), the rest is text.
d = target("tokenizer")
with open(os.path.join(FIX, "tokenizer", "cases.json")) as f:
    cases = json.load(f)["cases"]
seen = set()
for c in cases:
    text = bytes.fromhex(c["text_hex"])
    if text in seen or len(text) > 300 or len(seen) >= 40:
        continue
    seen.add(text)
    write(d, "case_%02d" % len(seen), bytes([(c["max_length"] - 2) % 64]) + text)
write(d, "invalid_utf8", b"\x21a \xc3\x28 b \xed\xa0\x80 \xf4\x90\x80\x80")

d = target("csv")
copy(os.path.join(FIX, "data"), [n for n in os.listdir(os.path.join(FIX, "data")) if n.endswith(".csv")], d, 5000)
write(d, "quoted_error.csv", 'a,b\n"x"y,1\n')
write(d, "short_row.csv", "a,b,c\n1,2\n")
write(d, "cr_only.csv", "\ufeffa,b\r1,\"2\r3\"\r\r4,5")
write(d, "duplicate_columns.csv", "x,a,b,a,b\n0,1,2,3,4\n")

d = target("config")
for rel in ("model/tiny_config.json", "train_run/tiny_coded.json", "train_run/tiny_metric_attention.json",
            "metric_head/attention_config.json", "metric_head/coded_config.json"):
    shutil.copy(os.path.join(FIX, rel), os.path.join(d, rel.replace("/", "_")))
shutil.copy(os.path.join(ROOT, "experiments", "demo", "tiny_model.json"), d)
write(d, "wrong_type.json", '{"vision": {"image_size": "224"}}')
write(d, "not_json.json", '{"vision": [1, 2,')

d = target("experiment")
for sub in ("", "demo", "paper"):
    src = os.path.join(ROOT, "experiments", sub)
    for n in sorted(os.listdir(src)):
        if n.endswith(".lua"):
            shutil.copy(os.path.join(src, n), os.path.join(d, (sub + "_" if sub else "") + n))
write(d, "misspelt.lua", 'return aapmt.experiment{databse = "demo", train = {epochs = 2.5}}\n')
write(d, "returns_number.lua", "return 42\n")
write(d, "syntax_error.lua", "return aapmt.experiment{name = }\n")
