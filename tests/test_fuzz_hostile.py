"""Property-based fuzzing (hypothesis) of the data-file sniffer and line parser and of the
model-file reader: whatever the bytes, the answer is a result that obeys the format's rules or
one line naming the file, never a traceback, a hang or a wrapped number."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hostile import header_bytes, read_raw, valid_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from har_studio.data.dataset import DataError
from har_studio.data.loaders import load_file
from har_studio.model.io import ModelFileError, file_checksum, load_model

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- data files ----------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(-2**70, 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-0", "1e309", "NaN", "inf", "-inf", "0x1f", "1,5", " 3 ", "", "+7",
                     str(2**63), str(2**64 - 1), str(-2**63 - 1), "9e18", "1.7e12"]),
)
TOKENS = st.one_of(NUMBERS, st.sampled_from(
    ["Walking", "Jogging", "A", "B", "walking", "Sitting", "Z", "??", "\"Walking\"", "u7",
     "2019-05-01T10:00:00Z", ";", ",", "\t", "é", "\x00"]),
    st.text(max_size=6))
RECORD = st.lists(TOKENS, min_size=0, max_size=8)
HEADERS = st.sampled_from([None, "subject,activity,timestamp,x,y,z",
                           "timestamp;x;y;z;activity", "user\tlabel\ttime\tax\tay\taz",
                           "activity,x,y,z", "id,class,t,x,y,z,gx,gy,gz"])


def _check_parsed(pf, path: Path) -> None:
    t = pf.table
    n = len(t)
    assert len(t.activity) == len(t.timestamp) == len(t.rec) == n
    assert t.subject.dtype == np.int64 and t.timestamp.dtype == np.int64
    if n:
        assert np.abs(t.subject).max() < 2**62           # never wrapped
        assert t.timestamp.min() >= 0
        assert t.activity.min() >= 0 and t.activity.max() < len(pf.activities)
    for values in t.channels.values():
        assert len(values) == n and np.isfinite(values).all()
    assert pf.records_read >= n


def _load_text(data: bytes, name: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            pf = load_file(path)
        except DataError as exc:
            message = str(exc)
            assert "\n" not in message and str(path) in message
            return None
        _check_parsed(pf, path)
        return pf


@FUZZ
@given(header=HEADERS, records=st.lists(RECORD, max_size=30),
       sep=st.sampled_from([",", ";", "\t", "|"]), end=st.sampled_from(["\n", ";\n", "\r\n", ";"]))
def test_fuzz_line_parser(header, records, sep, end):
    lines = ([header] if header else []) + [sep.join(r) for r in records]
    _load_text(end.join(lines).encode("utf-8", errors="surrogatepass") + b"\n",
               "data.csv" if header else "data.txt")


@FUZZ
@given(subject=st.integers(-2**66, 2**66), ts=st.integers(-2**65, 2**65),
       values=st.tuples(*[st.floats(allow_nan=True, allow_infinity=True, width=64)] * 3))
def test_fuzz_raw_record_fields(subject, ts, values):
    """One odd record among good ones: it is kept exactly, or skipped; the rest are kept."""
    good = "".join(f"7,Walking,{10**9 + i * 50_000_000},1,2,3;\n" for i in range(5))
    odd = f"{subject},Walking,{ts},{values[0]!r},{values[1]!r},{values[2]!r};\n"
    pf = _load_text((good + odd).encode(), "odd.txt")
    assert pf is not None
    kept = pf.table
    assert len(kept) in (5, 6)
    if len(kept) == 6:
        assert kept.subject[-1] == subject and kept.timestamp[-1] == ts


@FUZZ
@given(data=st.binary(max_size=3000), prefix=st.sampled_from(
    [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x89PNG\r\n\x1a\n", b"PK\x03\x04",
     b"subject,activity,timestamp,x,y,z\n", b"1,Walking,100,1,2,3;"]))
def test_fuzz_sniffer_on_bytes(data, prefix):
    _load_text(prefix + data, "bytes.txt")


# --- model files ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    path = valid_model(tmp_path_factory.mktemp("fuzz_model") / "m.harmodel")
    return path.read_bytes()


def _load_model_bytes(data: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.harmodel"
        path.write_bytes(data)
        try:
            return load_model(path)
        except ModelFileError as exc:
            message = str(exc)
            assert "\n" not in message and str(path) in message
            return None


@FUZZ
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                      min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_fuzz_model_file_bytes(model_bytes, edits, cut):
    """Random byte changes anywhere (header, recipe, weights) and truncation."""
    data = bytearray(model_bytes)
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[:int(cut * len(data))]
    bundle = _load_model_bytes(bytes(data))
    if bundle is not None:  # only an edit that changed nothing can pass the checksum
        assert bytes(data) == model_bytes or len(data) == len(model_bytes)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=12)
FIELDS = st.sampled_from([
    ("model", "series"), ("model", "modal"), ("model", "classes"), ("model", "embedding_dim"),
    ("model", "patch_size"), ("model", "head_num"), ("model", "att_size"), ("model", "depth"),
    ("model", "head_width"), ("model", "dropout"), ("window", "size"), ("window", "step"),
    ("window", "rate_hz"), ("window", "max_gap_periods"), ("normaliser", "mean"),
    ("normaliser", "std"), ("channels",), ("labels",), ("features",), ("recipe",)])
SMALL_NUMBERS = st.one_of(st.integers(-3, 200), st.floats(-1e50, 1e50),
                          st.lists(st.floats(-1e12, 1e12), min_size=3, max_size=3))


@FUZZ
@given(field=FIELDS, value=st.one_of(JSON_VALUES, SMALL_NUMBERS))
def test_fuzz_model_recipe_values(model_bytes, field, value):
    """Any value in any recipe field, with a correct checksum (as a buggy writer would make
    it): refused in one line, or a model whose predictions are finite probabilities."""
    header, blob = read_raw_bytes(model_bytes)
    recipe = json.loads(header["__metadata__"]["har_studio"])
    target = recipe
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    text = json.dumps(recipe)
    header["__metadata__"]["har_studio"] = text
    header["__metadata__"]["checksum"] = file_checksum(text, _tensors(header, blob))
    bundle = _load_model_bytes(header_bytes(header) + blob)
    if bundle is not None:
        X = np.random.default_rng(0).uniform(-50, 50, (3, bundle.window.size,
                                                       len(bundle.channels)))
        p = bundle.predict_proba(X.astype(np.float32))
        assert np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1, atol=1e-4)


def read_raw_bytes(data: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m"
        path.write_bytes(data)
        return read_raw(path)


def _tensors(header: dict, blob: bytes) -> dict:
    import torch

    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(blob[begin:end]),
                                     dtype=torch.float32).reshape(info["shape"])
    return out


def test_fuzz_helpers_round_trip(model_bytes):
    """The re-signing helper makes a file that loads (so the fuzz above tests validation)."""
    header, blob = read_raw_bytes(model_bytes)
    text = header["__metadata__"]["har_studio"]
    assert header["__metadata__"]["checksum"] == file_checksum(text, _tensors(header, blob))
    assert _load_model_bytes(header_bytes(header) + blob) is not None
