"""A generator of hostile model and data files: every case of issue 9 and a few more.

Each case is a `Case`: a name, the file(s) it wrote, the CLI arguments that open it
(``evaluate`` for model files, ``inspect`` for data files) and a fragment its one-line refusal
must contain. ``tests/test_hostile_*.py`` load each case in process; ``bench/bench_hostile.py``
runs each in a subprocess and measures exit code, message, peak memory and seconds.

Model files are made from a small valid model (written by ``save_model``) whose safetensors
header is rewritten by hand, so a file can ask for 100,000 blocks without anything that big
ever being built here. Unless a case is about the checksum, the changed file keeps its old
checksum: validation must refuse it before the checksum is even read.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SMALL = dict(series=40, modal=3, classes=4, embedding_dim=16, patch_size=4, head_num=2,
             att_size=8, depth=2, head_width=32)
LABELS = ["walking", "jogging", "sitting", "standing"]


@dataclass
class Case:
    name: str
    kind: str                   # "model" or "data"
    path: Path
    args: list[str]             # har-studio arguments that open it
    expect: str                 # fragment of the refusal (lower case)
    note: str = ""
    extra: dict = field(default_factory=dict)


def valid_model(path: Path, seed: int = 0) -> Path:
    """A small valid model file (what the current save_model writes)."""
    import torch

    from har_studio.data.splits import Normaliser
    from har_studio.data.windows import WindowConfig
    from har_studio.model.config import ViTConfig
    from har_studio.model.io import ModelBundle, save_model
    from har_studio.model.vit import TimeSeriesViT

    config = ViTConfig(**SMALL)
    torch.manual_seed(seed)
    model = TimeSeriesViT(config).eval()
    bundle = ModelBundle(model, config, WindowConfig(size=config.series, step=20),
                         ["x", "y", "z"], list(LABELS),
                         Normaliser(np.zeros(3, np.float32), np.ones(3, np.float32)),
                         recipe={"training": {"lr": 0.00123, "epochs": 7}})
    return save_model(path, bundle)


def read_raw(path: Path) -> tuple[dict, bytes]:
    """(header dict, data bytes) of a safetensors file, parsed without safetensors."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def header_bytes(header: dict | str | bytes) -> bytes:
    text = header if isinstance(header, (str, bytes)) else json.dumps(header)
    body = text.encode() if isinstance(text, str) else text
    body += b" " * (-len(body) % 8)
    return struct.pack("<Q", len(body)) + body


def write_raw(path: Path, header: dict | str | bytes, data: bytes) -> Path:
    Path(path).write_bytes(header_bytes(header) + data)
    return Path(path)


def edit_model(src: Path, dst: Path, recipe: Callable[[dict], None] | None = None,
               meta: Callable[[dict], None] | None = None,
               data: Callable[[bytearray], None] | None = None) -> Path:
    """Copy `src` to `dst` changing the recipe JSON, the metadata and/or the weight bytes,
    keeping the old checksum."""
    header, blob = read_raw(src)
    if recipe is not None:
        r = json.loads(header["__metadata__"]["har_studio"])
        recipe(r)
        header["__metadata__"]["har_studio"] = json.dumps(r)
    if meta is not None:
        meta(header["__metadata__"])
    blob = bytearray(blob)
    if data is not None:
        data(blob)
    return write_raw(dst, header, bytes(blob))


def _set(*keys, value):
    def change(r: dict) -> None:
        d = r
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return change


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def model_cases(folder: Path, data_file: Path) -> list[Case]:
    """Hostile model files in `folder`; `data_file` is any small valid data file (evaluate
    needs one, and must refuse the model before reading it)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = valid_model(folder / "valid.harmodel")
    cases: list[Case] = []

    def add(name: str, path: Path, expect: str, note: str = "") -> None:
        cases.append(Case(name, "model", path,
                          ["evaluate", "--model", str(path), "--data", str(data_file)],
                          expect, note))

    def model(name, expect, note="", **kw):
        add(name, edit_model(base, folder / f"{name}.harmodel", **kw), expect, note)

    model("huge_depth", "block count", "recipe asks for 100,000 blocks",
          recipe=_set("model", "depth", value=100_000))
    model("huge_window", "window length", "window of 2,000,000 samples",
          recipe=lambda r: (_set("model", "series", value=2_000_000)(r),
                            _set("window", "size", value=2_000_000)(r)))
    model("huge_embedding", "embedding size", "embedding of 100,000",
          recipe=_set("model", "embedding_dim", value=100_000))
    model("huge_head", "parameters", "head 16,384 wide on a 4,096 embedding: 400 M parameters",
          recipe=lambda r: r["model"].update(embedding_dim=4096, head_width=16384,
                                             depth=1, patch_size=1))
    model("window_size_float", "whole number", "window size 40.0",
          recipe=_set("window", "size", value=float(SMALL["series"])))
    model("window_step_fraction", "whole number", "window step 1.5",
          recipe=_set("window", "step", value=1.5))
    model("window_gap_text", "max gap", "max gap \"x\"",
          recipe=_set("window", "max_gap_periods", value="x"))
    model("window_rate_nan", "sampling rate", "rate NaN",
          recipe=_set("window", "rate_hz", value=float("nan")))
    model("model_field_bool", "integer", "depth true",
          recipe=_set("model", "depth", value=True))
    model("tiny_std", "standard deviation", "normaliser std 1e-45",
          recipe=_set("normaliser", "std", value=[1e-45, 1.0, 1.0]))
    model("infinite_mean", "normalisation", "normaliser mean 1e308 (inf in float32)",
          recipe=_set("normaliser", "mean", value=[1e308, 0.0, 0.0]))
    model("recipe_digit_changed", "checksum", "0.00123 -> 0.00124 in the recipe",
          meta=lambda m: m.update(har_studio=m["har_studio"].replace("0.00123", "0.00124")))

    def flip(blob: bytearray) -> None:
        blob[len(blob) // 2] ^= 0x40

    model("checksum_renamed_weight_changed", "no checksum", "checksum key renamed + a weight",
          meta=lambda m: m.update(checksum_=m.pop("checksum")), data=flip)
    model("weight_flipped", "checksum", "one weight byte flipped", data=flip)

    # Deep JSON: the whole header, and the recipe inside it (a million levels)
    header, blob = read_raw(base)
    add("deep_json_header", write_raw(folder / "deep_json_header.harmodel",
                                      '{"a":' + _deep(1_000_000) + "}", blob),
        "header", "header nested 1,000,000 deep")
    meta = dict(header["__metadata__"])
    meta["har_studio"] = meta["har_studio"][:-1] + ', "deep": ' + _deep(1_000_000) + "}"
    add("deep_json_recipe", write_raw(folder / "deep_json_recipe.harmodel",
                                      {**header, "__metadata__": meta}, blob),
        "nested too deeply", "recipe nested 1,000,000 deep")
    # Weight table that lies: a shape the config does not need
    header2 = json.loads(json.dumps(header))
    name = sorted(k for k in header2 if k != "__metadata__")[0]
    header2[name]["shape"] = [10**9, 10**9]
    add("shape_lie", write_raw(folder / "shape_lie.harmodel", header2, blob), "corrupt",
        "a weight claims 10^18 elements")
    # 3 GB sparse file with a valid header: nothing is read
    sparse = folder / "sparse_3gb.harmodel"
    with open(sparse, "wb") as fh:
        fh.write(Path(base).read_bytes())
        fh.truncate(3 << 30)
    add("sparse_3gb", sparse, "too large", "3 GB sparse file, valid header")
    big = folder / "sparse_600mb.harmodel"
    with open(big, "wb") as fh:
        fh.write(Path(base).read_bytes())
        fh.truncate(600 << 20)
    add("sparse_600mb", big, "bytes after the weights",
        "600 MB sparse file under the size cap, valid header")
    # A legacy (format 2) file without its checksum
    model("legacy_without_checksum", "no checksum", "format 2, weights_sha256 removed",
          meta=lambda m: (m.update(format_version="2"), m.pop("checksum")))
    if hasattr(os, "mkfifo"):
        fifo = folder / "fifo.harmodel"
        if not fifo.exists():
            os.mkfifo(fifo)
        add("fifo", fifo, "not a regular file", "a named pipe nobody writes to")
    return cases


def data_cases(folder: Path) -> list[Case]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name: str, path: Path, expect: str, note: str = "") -> None:
        cases.append(Case(name, "data", path, ["inspect", str(path)], expect, note))

    zeros = folder / "zeros_2gb.txt"
    with open(zeros, "wb") as fh:
        fh.truncate(2 << 30)
    add("zeros_2gb", zeros, "binary", "2 GB of zero bytes (sparse)")
    huge = folder / "huge_ids.txt"
    huge.write_text("".join(f"{2**63 + i * 997},Walking,{1_000_000 + i * 50_000_000},1,2,3;\n"
                            for i in range(50)) + f"{2**64 - 1},Walking,5,1,2,3;\n")
    add("huge_ids", huge, "bad subject id", "subject ids 2^63..2^64-1")
    png = folder / "image.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100)
    add("png_named_txt", png, "png", "a PNG named .txt")
    if hasattr(os, "mkfifo"):
        fifo = folder / "fifo.txt"
        if not fifo.exists():
            os.mkfifo(fifo)
        add("fifo_data", fifo, "not a regular file", "a named pipe")
    return cases


def write_small_data(path: Path, subjects=(1, 2), rows: int = 400) -> Path:
    """A small valid WISDM v1.1 file (for evaluate to have something to read)."""
    rng = np.random.default_rng(0)
    lines = []
    for s in subjects:
        for activity in ("Walking", "Jogging"):
            for i in range(rows):
                x, y, z = rng.normal(0, 3, 3)
                lines.append(f"{s},{activity},{1_000_000_000 + i * 50_000_000},"
                             f"{x:.3f},{y:.3f},{z:.3f};")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def write_many_lines(path: Path, lines: int) -> Path:
    """A valid WISDM v1.1 file of `lines` records, written in chunks (for memory figures)."""
    step = 1_000_000
    with open(path, "w") as fh:
        for start in range(0, lines, step):
            i = np.arange(start, min(lines, start + step))
            subject = 1 + i // 500_000
            ts = 1_000_000_000 + (i % 500_000) * 50_000_000
            text = "\n".join(f"{s},Walking,{t},0.5,9.8,-0.25;"
                             for s, t in zip(subject.tolist(), ts.tolist(), strict=True))
            fh.write(text + "\n")
    return Path(path)
