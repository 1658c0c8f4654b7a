"""The model file (``.harmodel``): the weights and the whole recipe in one safetensors file.

A model file holds everything needed to use a model on new data and to say where it came
from: the network configuration, the window settings, the channel names and units, the
normalisation statistics, the activity names in class order, plus whatever the trainer put in
``recipe`` (split and held-out subjects, training configuration, metrics, data files) and the
package versions that wrote it. The recipe is JSON in the safetensors metadata.

Loading never executes code from the file: the header is parsed as JSON here, the tensors
are read as plain numbers, and pickles (``torch.save`` files) are refused. A hostile file is
refused before anything it asks for is allocated (see ``load_model``); torch is imported only
once the file's settings have passed, so a refusal does not wait for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import stat
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..atomic import atomic_write_bytes
from ..data.dataset import CHANNEL_UNITS
from ..data.features import FeatureConfig, derive, output_channels
from ..data.splits import Normaliser
from ..data.windows import WindowConfig
from .config import MAX_PARAMETERS, ViTConfig

if TYPE_CHECKING:
    import torch

    from .vit import TimeSeriesViT, ViTEnsemble

log = logging.getLogger(__name__)

FORMAT_NAME = "har-studio-model"
FORMAT_VERSION = 4        # 2 added derived input features ("features"; absent = raw channels);
#                           3 a mandatory checksum over the recipe and the weights ("checksum");
#                           4 an optional sample of the training windows ("replay", replay.py)
MODEL_SUFFIX = ".harmodel"
REPLAY_PREFIX = "replay."  # tensors of the stored training windows, one per activity index
REPLAY_MAX_PER_CLASS = 1024   # the most stored training windows a file may hold per activity
PREDICT_BATCH = 512
_MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 64       # nesting of the header and recipe JSON
MIN_STD = 1e-6            # smallest normalisation standard deviation a file may hold
# No model file can be larger: the largest header plus the most parameters at 8 bytes each.
MAX_FILE_BYTES = 8 + _MAX_HEADER_BYTES + 8 * MAX_PARAMETERS
_FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2,
                "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


class ModelFileError(Exception):
    """A model file that cannot be used; the message is one line naming the file."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class ModelBundle:
    """A trained model and everything needed to apply it to raw sensor windows."""

    model: TimeSeriesViT | ViTEnsemble
    model_config: ViTConfig
    window: WindowConfig
    channels: list[str]
    labels: list[str]
    normaliser: Normaliser
    recipe: dict = field(default_factory=dict)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    # A sample of the training windows per activity, in the model's frame before derivation
    # ({label: float32 [n, size, channels]}): calibration replays it (training/replay.py).
    replay: dict | None = None

    @property
    def input_channels(self) -> list[str]:
        """Names of what the network reads: the channels derived from the raw ``channels``
        by ``features`` (the raw names themselves for the identity features)."""
        return output_channels(self.channels, self.features)

    def derive(self, X: np.ndarray) -> np.ndarray:
        """Raw windows ``[n, size, C]`` (already aligned, see ``align``) -> the network's
        inputs before normalisation."""
        return derive(X, self.channels, self.features, rate_hz=self.window.rate_hz)[0]

    def align(self, X: np.ndarray, subjects=None, alignment=None) -> np.ndarray:
        """Raw windows in each person's upright, unit-gain frame when the model was trained
        that way (``features.align``; ``data.alignment``), else `X` itself. `alignment`: an
        ``Alignment`` for every window, or ``{subject: Alignment}`` with `subjects`; without
        it each subject's (or, without `subjects`, the whole batch's) own estimate."""
        if not self.features.aligns:
            return X
        from ..data.alignment import align_windows

        return align_windows(X, self.channels, subjects, alignment)

    @property
    def units(self) -> dict[str, str]:
        """Unit of each channel (``""`` for a channel the app does not know)."""
        return {c: CHANNEL_UNITS.get(c, "") for c in self.channels}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _check_windows(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        size, n_channels = self.window.size, len(self.channels)
        if X.ndim != 3 or X.shape[1] != size or X.shape[2] != n_channels:
            raise ValueError(
                f"the model expects windows of shape [n, {size}, {n_channels}] "
                f"({size} samples of {', '.join(self.channels)}), got {list(X.shape)}"
            )
        return X

    def _batches(self, X: np.ndarray, with_attention: bool, subjects=None, alignment=None):
        import torch

        if self.model.training:
            self.model.eval()
        Xn = self.normaliser.apply(self.derive(self.align(X, subjects, alignment)))
        device = self.device
        with torch.inference_mode():
            step = predict_batch(self.model_config)
            for i in range(0, len(Xn), step):
                xb = torch.from_numpy(np.ascontiguousarray(Xn[i:i + step])).to(device)
                if with_attention:
                    logits, attention = self.model.forward_with_attention(xb)
                else:
                    logits, attention = self.model(xb), None
                yield torch.softmax(logits.float(), dim=-1).cpu().numpy(), attention

    def predict_proba(self, X: np.ndarray, subjects=None, alignment=None) -> np.ndarray:
        """Class probabilities ``float32 [n, classes]`` for raw-unit windows ``[n, size, C]``
        (`subjects`, `alignment`: see ``align``)."""
        X = self._check_windows(X)
        if len(X) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        return np.concatenate([p for p, _ in self._batches(X, False, subjects, alignment)]
                              ).astype(np.float32)

    def predict_proba_with_attention(self, X: np.ndarray, subjects=None, alignment=None
                                     ) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and first-block attention per time patch ``float32 [n, C', patches]``
        (one row per input channel: see ``input_channels``)."""
        X = self._check_windows(X)
        if len(X) == 0:
            return (np.zeros((0, len(self.labels)), np.float32),
                    np.zeros((0, self.model_config.modal, self.model_config.patch_num),
                             np.float32))
        probs, attention = [], []
        for p, a in self._batches(X, True, subjects, alignment):
            probs.append(p)
            attention.append(a.float().cpu().numpy())
        return (np.concatenate(probs).astype(np.float32),
                np.concatenate(attention).astype(np.float32))

    def predict(self, X: np.ndarray, subjects=None, alignment=None) -> np.ndarray:
        """Class index (into ``labels``) of the most probable class of each window."""
        return self.predict_proba(X, subjects, alignment).argmax(axis=1).astype(np.int64)


def predict_batch(config: ViTConfig, budget_floats: int = 64 * 1024 * 1024) -> int:
    """Windows per inference batch: PREDICT_BATCH, fewer for a network whose activations
    (attention scores grow with the square of the patch count) would pass ~256 MB a batch."""
    c = config
    per_window = c.modal * (c.head_num * c.patch_num ** 2
                            + c.patch_num * (3 * c.head_num * c.att_size + 4 * c.embedding_dim))
    return int(max(1, min(PREDICT_BATCH, budget_floats // max(1, per_window))))


def package_versions() -> dict[str, str]:
    """Versions recorded in every model file (to explain differences between machines)."""
    import torch

    from .. import __version__

    versions = {"har_studio": __version__, "torch": torch.__version__,
                "numpy": np.__version__, "python": platform.python_version()}
    try:
        import safetensors

        versions["safetensors"] = safetensors.__version__
    except (ImportError, AttributeError):  # pragma: no cover
        pass
    return versions


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, datetime)):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _check_bundle(bundle: ModelBundle) -> None:
    c = bundle.model_config
    inputs = bundle.input_channels  # raises ValueError if the features need a missing channel
    if len(inputs) != c.modal:
        what = ("channel names" if bundle.features.is_identity
                else f"input channels ({bundle.features.describe()})")
        raise ValueError(f"{len(inputs)} {what} for a model of {c.modal} channels")
    if len(bundle.labels) != c.classes:
        raise ValueError(f"{len(bundle.labels)} activity names for a model of {c.classes} classes")
    if len(set(bundle.labels)) != len(bundle.labels):
        raise ValueError("activity names must be unique")
    if bundle.window.size != c.series:
        raise ValueError(f"window size {bundle.window.size} differs from the model's {c.series}")
    if len(bundle.normaliser.mean) != c.modal or len(bundle.normaliser.std) != c.modal:
        raise ValueError("normalisation statistics do not match the channel count")


def save_model(path: str | os.PathLike, bundle: ModelBundle) -> Path:
    """Write `bundle` to `path` atomically (an existing file stays intact if writing fails).

    The file's recipe is ``bundle.recipe`` plus the package versions and a creation time.
    Raises ValueError if the bundle is inconsistent or its recipe is not JSON-serialisable.
    """
    import torch
    from safetensors.torch import save

    _check_bundle(bundle)
    recipe = dict(bundle.recipe)
    recipe["versions"] = package_versions()
    recipe.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    header = {
        "model": bundle.model_config.to_dict(),
        "window": bundle.window.to_dict(),
        "channels": list(bundle.channels),
        "units": bundle.units,
        "labels": list(bundle.labels),
        "normaliser": bundle.normaliser.to_dict(),
        "recipe": recipe,
    }
    if not bundle.features.is_identity:
        header["features"] = bundle.features.to_dict()
    if bundle.replay:
        header["replay"] = {"counts": _replay_counts(bundle)}
    try:
        text = json.dumps(header, default=_json_default)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"the model recipe cannot be saved: {exc}") from exc
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous()
               for k, v in bundle.model.state_dict().items()}
    if bundle.replay:
        for i, label in enumerate(bundle.labels):
            if len(bundle.replay.get(label, ())):
                tensors[f"{REPLAY_PREFIX}{i}"] = torch.from_numpy(
                    np.ascontiguousarray(bundle.replay[label], dtype=np.float32))
    metadata = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "har_studio": text,
                "checksum": file_checksum(text, tensors)}
    data = save(tensors, metadata=metadata)
    atomic_write_bytes(path, data)
    log.info("saved model %s (%d bytes)", path, len(data))
    return Path(path)


def _torch_dtype(tag: str):
    """torch dtype of a safetensors float type tag."""
    import torch

    return {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32,
            "F64": torch.float64}[tag]


# the dtype names format 1-2 checksums used (str of the torch dtype)
_LEGACY_TAG = {"F16": "torch.float16", "BF16": "torch.bfloat16", "F32": "torch.float32",
               "F64": "torch.float64"}


def _tag_of(dtype) -> str:
    return {str(_torch_dtype(t)): t for t in _FLOAT_DTYPES}[str(dtype)]


def _checksum_start(text: str) -> hashlib._Hash:
    digest = hashlib.sha256(b"har-studio-model checksum 3\n")
    raw = text.encode("utf-8")
    digest.update(struct.pack("<Q", len(raw)))
    digest.update(raw)
    return digest


def _tensor_prefix(name: str, tag: str, shape) -> bytes:
    return f"{name}|{tag}|{list(shape)}|".encode()


def weights_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the names, types, shapes and bytes of the weights alone: which weights a
    model has, whatever its recipe says (a calibrated model records its base's)."""
    return file_checksum("", tensors)


def file_checksum(recipe_text: str, tensors: dict[str, torch.Tensor]) -> str:
    """The ``checksum`` of a model file (format 3): SHA-256 over the recipe text (the
    ``har_studio`` metadata entry) and the names, types, shapes and bytes of the weights, so a
    change to either is caught."""
    import torch

    digest = _checksum_start(recipe_text)
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(_tensor_prefix(name, _tag_of(t.dtype), t.shape))
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _sniff(head: bytes) -> str | None:
    """A reason for well-known non-model files, judged from their first bytes."""
    if head.startswith(b"PK\x03\x04"):
        return ("a zip archive (a PyTorch torch.save checkpoint?), not a HAR Studio model; "
                "refusing to unpickle it")
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle, not a HAR Studio model; pickles are never loaded (they can run code)"
    return None


def _json_depth_ok(obj, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when `obj` (parsed JSON) nests at most `limit` deep (iterative: no recursion)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return False
            items = value.values() if isinstance(value, dict) else value
            stack.extend((v, depth + 1) for v in items if isinstance(v, (dict, list)))
    return True


def _loads(text: str | bytes, what: str, path: Path):
    """json.loads that turns every failure, nesting too deep included, into a ModelFileError."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ModelFileError(path, f"{what} is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError):
        raise ModelFileError(path, f"{what} is not valid JSON") from None
    if not _json_depth_ok(value):
        raise ModelFileError(path, f"{what} is nested too deeply (over {MAX_JSON_DEPTH} levels)")
    return value


def _read_header(path: Path, fh, size: int) -> tuple[dict, int]:
    """Parse the safetensors header ourselves (before reading the weights): clear errors for
    foreign files, and nothing in the file is ever executed."""
    fail = lambda reason: ModelFileError(path, reason)  # noqa: E731
    if size == 0:
        raise fail("the file is empty")
    head = fh.read(8)
    sniffed = _sniff(head)
    if sniffed:
        raise fail(sniffed)
    if len(head) < 8:
        raise fail("not a HAR Studio model file (too short)")
    (n,) = struct.unpack("<Q", head)
    if n == 0 or n > _MAX_HEADER_BYTES:
        raise fail("not a HAR Studio model file (no safetensors header)")
    if 8 + n > size:
        raise fail("the file is truncated or not a HAR Studio model file (header incomplete)")
    raw = fh.read(n)
    if len(raw) != n:
        raise fail("the file is truncated (header incomplete)")
    try:
        header = _loads(raw.decode("utf-8"), "the header", path)
    except UnicodeDecodeError:
        raise fail("not a HAR Studio model file (unreadable header)") from None
    except ModelFileError as exc:
        raise fail(f"not a HAR Studio model file ({exc.reason})") from None
    if not isinstance(header, dict):
        raise fail("not a HAR Studio model file (unreadable header)")
    return header, 8 + n


def _tensor_table(path: Path, header: dict, data_start: int, size: int,
                  expected: dict[str, tuple[int, ...]]) -> list[tuple[str, str, tuple, int, int]]:
    """Check the file's weight table against the shapes the configuration needs (`expected`,
    derived without allocating) and the file size; returns (name, dtype, shape, begin, end)
    of each weight, ordered by name."""
    table = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, stop) = info["dtype"], info["shape"], info["data_offsets"]
            valid = (isinstance(dtype, str) and isinstance(shape, list)
                     and all(type(s) is int and 0 <= s < 2**40 for s in shape)
                     and type(begin) is int and type(stop) is int and 0 <= begin <= stop
                     and dtype in _DTYPE_BYTES
                     and stop - begin == math.prod(shape) * _DTYPE_BYTES[dtype])
        except (KeyError, TypeError, ValueError):
            valid = False
        if not valid:
            raise ModelFileError(path, f"the weight table is corrupt (entry {str(name)[:60]!r})")
        if dtype not in _FLOAT_DTYPES:
            raise ModelFileError(path, f"weight {name!r} has non-float type {dtype}")
        table[name] = (dtype, tuple(shape), begin, stop)
    missing = [k for k in expected if k not in table]
    extra = [k for k in table if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if extra:
            shown = ", ".join(str(k)[:60] for k in extra[:3])
            parts.append(f"unexpected {shown}{' ...' if len(extra) > 3 else ''}")
        raise ModelFileError(path, "the weights do not match the model configuration ("
                             + "; ".join(parts) + ")")
    for name, want in expected.items():
        got = table[name][1]
        if got != want:
            raise ModelFileError(
                path, f"weight {name} has shape {list(got)} but the model configuration "
                f"needs {list(want)}")
    spans = sorted((begin, stop) for _, _, begin, stop in table.values())
    end = 0
    for begin, stop in spans:
        if begin != end:
            raise ModelFileError(path, "the weight table is corrupt (overlapping or gapped "
                                 "weights)")
        end = stop
    if data_start + end > size:
        raise ModelFileError(
            path, f"the file is truncated ({size} bytes, the weights need {data_start + end})")
    if data_start + end < size:
        raise ModelFileError(path, f"the file has {size - data_start - end} bytes after the "
                             "weights (damaged or not a HAR Studio model)")
    return [(name, *table[name]) for name in sorted(table)]


def _field(path: Path, meta: dict, name: str, kind: type):
    if name not in meta:
        raise ModelFileError(path, f"the model recipe has no {name!r} entry")
    value = meta[name]
    if not isinstance(value, kind):
        raise ModelFileError(path, f"the model recipe's {name!r} entry is malformed")
    return value


def _number(value, name: str, low: float, high: float, integer: bool = False):
    """A finite number in [low, high] (an int when `integer`); ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            integer and not isinstance(value, int)):
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"{name} must be {kind}, got {str(value)[:40]!r}")
    if not math.isfinite(value) or not (low <= value <= high):
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value!r}")
    return value


def _window(d: dict) -> WindowConfig:
    """The window settings, checked for type and range before WindowConfig sees them."""
    unknown = sorted(set(map(str, d)) - {"size", "step", "rate_hz", "max_gap_periods"})
    if unknown:
        raise ValueError(f"unknown window setting(s): {', '.join(unknown)[:80]}")
    if "size" in d:
        _number(d["size"], "window size", 2, 8192, integer=True)
    if "step" in d:
        _number(d["step"], "window step", 1, 1_000_000, integer=True)
    if "rate_hz" in d:
        _number(d["rate_hz"], "sampling rate", 0.01, 100_000)
    if "max_gap_periods" in d:
        _number(d["max_gap_periods"], "max gap", 0, 1e6)
    return WindowConfig.from_dict(d)


def _normaliser(d: dict, channels: int) -> Normaliser:
    """Statistics that turn sensor values into finite network inputs: finite means, standard
    deviations in [1e-6, 1e9] (a std of 1e-45 makes every input infinite)."""
    mean, std = d["mean"], d["std"]
    if not isinstance(mean, list) or not isinstance(std, list) or len(mean) != len(std) \
            or len(mean) > 64:
        raise ValueError("malformed")
    for v in mean:
        _number(v, "a normalisation mean", -1e9, 1e9)
    for v in std:
        _number(v, "a normalisation standard deviation", MIN_STD, 1e9)
    return Normaliser.from_dict({"mean": mean, "std": std})


def _features(d) -> FeatureConfig:
    if isinstance(d, dict) and "lowpass_s" in d:
        _number(d["lowpass_s"], "lowpass_s", 1e-3, 3600)
    if isinstance(d, dict) and isinstance(d.get("outputs"), list) and len(d["outputs"]) > 64:
        raise ValueError("too many feature outputs")
    return FeatureConfig.from_dict(d)


def _parse_recipe(path: Path, text: str) -> dict:
    meta = _loads(text, "the model recipe", path)
    if not isinstance(meta, dict):
        raise ModelFileError(path, "the model recipe is malformed")
    parsed = {}
    try:
        parsed["model_config"] = ViTConfig.from_dict(_field(path, meta, "model", dict))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"invalid model configuration: {exc}") from None
    try:
        parsed["window"] = _window(_field(path, meta, "window", dict))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"invalid window configuration: {exc}") from None
    for name in ("channels", "labels"):
        values = _field(path, meta, name, list)
        if not all(isinstance(v, str) and v and len(v) <= 200 for v in values) \
                or len(set(values)) != len(values):
            raise ModelFileError(path, f"the model recipe's {name!r} entry is malformed")
        parsed[name] = list(values)
    try:
        parsed["normaliser"] = _normaliser(_field(path, meta, "normaliser", dict),
                                           parsed["model_config"].modal)
    except ValueError as exc:
        detail = "" if str(exc) == "malformed" else f": {exc}"
        raise ModelFileError(path, f"the normalisation statistics are malformed{detail}") from None
    except (KeyError, TypeError):
        raise ModelFileError(path, "the normalisation statistics are malformed") from None
    try:
        parsed["features"] = _features(meta.get("features"))
        inputs = output_channels(parsed["channels"], parsed["features"])
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"invalid input features: {exc}") from None
    recipe = meta.get("recipe", {})
    if not isinstance(recipe, dict):
        raise ModelFileError(path, "the model recipe's 'recipe' entry is malformed")
    parsed["recipe"] = recipe
    parsed["replay"] = meta.get("replay")    # checked with the weight table (_replay_shapes)
    c = parsed["model_config"]
    problems = []
    if len(inputs) != c.modal:
        problems.append(f"{len(inputs)} input channels for {c.modal} model channels")
    if len(parsed["labels"]) != c.classes:
        problems.append(f"{len(parsed['labels'])} activity names for {c.classes} classes")
    if parsed["window"].size != c.series:
        problems.append(f"window size {parsed['window'].size} but model series {c.series}")
    if len(parsed["normaliser"].mean) != c.modal:
        problems.append("normalisation statistics for a different channel count")
    if problems:
        raise ModelFileError(path, "inconsistent model recipe: " + "; ".join(problems))
    return parsed


def expected_shapes(config: ViTConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight the network of `config` has, derived without allocating
    anything (``ViTConfig.weight_shapes``; a test holds it equal to the shapes of the network
    built on torch's meta device). No torch import: a refusal does not wait for it."""
    return config.weight_shapes()


def _check_version(path: Path, meta: dict) -> int:
    try:
        version = int(str(meta.get("format_version", ""))[:8])
    except (TypeError, ValueError):
        raise ModelFileError(path, "the model file's format version is unreadable") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(path, f"written by a newer HAR Studio (model format {version}; "
                             f"this version reads up to {FORMAT_VERSION}): update HAR Studio")
    if version < 1:
        raise ModelFileError(path, f"unknown model format version {version}")
    return version


def _read_weights(path: Path, fh, data_start: int, table, version: int, meta: dict
                  ) -> dict[str, tuple[str, tuple, bytearray]]:
    """Read each weight once, hashing as it goes; refuse the file if the checksum is absent or
    does not match. Memory: the weights themselves, nothing more. Returns name -> (dtype tag,
    shape, bytes)."""
    if version >= 3:
        expected = meta.get("checksum")
        digest = _checksum_start(meta.get("har_studio", ""))
    else:  # formats 1-2: a checksum over the weights only (the recipe was not covered)
        expected = meta.get("weights_sha256")
        digest = hashlib.sha256()
    if not isinstance(expected, str) or len(expected) != 64:
        raise ModelFileError(path, "the model file has no checksum (damaged, or not written "
                             "by HAR Studio)")
    tensors: dict[str, tuple[str, tuple, bytearray]] = {}
    for name, dtype, shape, begin, stop in table:
        buffer = bytearray(stop - begin)
        fh.seek(data_start + begin)
        view = memoryview(buffer)
        got = 0
        while got < len(buffer):
            n = fh.readinto(view[got:])
            if not n:
                raise ModelFileError(path, "the file is truncated (the weights end early)")
            got += n
        tag = dtype if version >= 3 else _LEGACY_TAG[dtype]
        digest.update(_tensor_prefix(name, tag, shape))
        digest.update(buffer)
        tensors[name] = (dtype, shape, buffer)
    if digest.hexdigest() != expected:
        what = "the weights or the recipe" if version >= 3 else "the weights"
        raise ModelFileError(path, f"{what} are corrupt (checksum mismatch)")
    return tensors


def _build_model(path: Path, config: ViTConfig,
                 weights: dict[str, tuple[str, tuple, bytearray]]) -> torch.nn.Module:
    import torch

    from .vit import build_network

    tensors = {}
    for name, (dtype, shape, buffer) in weights.items():
        t = (torch.frombuffer(buffer, dtype=_torch_dtype(dtype)) if buffer
             else torch.empty(0, dtype=_torch_dtype(dtype)))
        tensors[name] = t.reshape(shape)
    for name, got in tensors.items():
        if not np.isfinite(got.to(torch.float32).numpy()).all():  # numpy: far faster here
            raise ModelFileError(path, f"weight {name} contains NaN or infinite values")
    model = build_network(config)
    model.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()
                           if not k.startswith(REPLAY_PREFIX)}, strict=True)
    return model.eval()


def _replay_counts(bundle: ModelBundle) -> list[int]:
    counts = [len(bundle.replay.get(label, ())) for label in bundle.labels]
    shape = (bundle.window.size, len(bundle.channels))
    for label in bundle.labels:
        X = bundle.replay.get(label)
        if X is not None and len(X) and tuple(np.shape(X)[1:]) != shape:
            raise ValueError(f"the stored {label} windows have shape {list(np.shape(X))[1:]}, "
                             f"not {list(shape)}")
    if max(counts, default=0) > REPLAY_MAX_PER_CLASS:
        raise ValueError(f"at most {REPLAY_MAX_PER_CLASS} stored windows per activity")
    return counts


def _replay_shapes(path: Path, entry, parsed: dict) -> dict[str, tuple[int, ...]]:
    """Name -> shape of the stored training windows the header's `entry` declares."""
    if entry is None:
        return {}
    counts = entry.get("counts") if isinstance(entry, dict) else None
    labels = parsed["labels"]
    if (not isinstance(counts, list) or len(counts) != len(labels)
            or not all(type(n) is int and 0 <= n <= REPLAY_MAX_PER_CLASS for n in counts)):
        raise ModelFileError(path, "the stored training windows' table is malformed")
    shape = (parsed["window"].size, len(parsed["channels"]))
    return {f"{REPLAY_PREFIX}{i}": (n, *shape) for i, n in enumerate(counts) if n}


def _replay_from(tensors: dict, labels: list[str]) -> dict | None:
    """{label: float32 windows} of the stored training windows read with the weights."""
    import torch

    out = {}
    for name, (dtype, shape, buffer) in tensors.items():
        if name.startswith(REPLAY_PREFIX):
            index = int(name[len(REPLAY_PREFIX):])
            out[labels[index]] = (torch.frombuffer(buffer, dtype=_torch_dtype(dtype))
                                  .reshape(shape).to(torch.float32).numpy().copy())
    return out or None


def _open_regular(path: Path):
    """Open `path` for reading without blocking (a FIFO or device must not hang the app) and
    refuse anything but a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(path, "is a folder, not a model file") from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot read the file ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ModelFileError(path, "is a folder, not a model file")
        if not stat.S_ISREG(info.st_mode):
            raise ModelFileError(path, "not a regular file (a pipe, socket or device?)")
        if hasattr(os, "O_NONBLOCK"):  # (opened without blocking: reads may block again)
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException as exc:
        os.close(fd)
        if isinstance(exc, OSError):
            raise ModelFileError(path, f"cannot read the file ({exc.strerror or exc})") from None
        raise


def load_model(path: str | os.PathLike) -> ModelBundle:
    """Read a model file written by ``save_model``; raises ModelFileError (one line) if the
    file is missing, unreadable, corrupt, truncated, foreign, newer, hostile or inconsistent.

    Everything the file says is checked before memory is allocated for it: the settings'
    types and ranges, the weight shapes (derived on torch's meta device), the file size they
    imply; then the weights are read once, checksummed on the way, and checked for NaN.
    """
    path = Path(path)
    fh, size = _open_regular(path)
    try:
        with fh:
            if size > MAX_FILE_BYTES:
                raise ModelFileError(path, f"too large for a HAR Studio model ({size:,} bytes; "
                                     f"the largest possible is {MAX_FILE_BYTES:,})")
            header, data_start = _read_header(path, fh, size)
            meta = header.get("__metadata__")
            if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
                raise ModelFileError(path, "a safetensors file but not a HAR Studio model "
                                     f"(no '{FORMAT_NAME}' format tag)")
            version = _check_version(path, meta)
            recipe_text = meta.get("har_studio", "")
            if not isinstance(recipe_text, str):
                raise ModelFileError(path, "the model recipe is malformed")
            parsed = _parse_recipe(path, recipe_text)
            table = _tensor_table(path, header, data_start, size,
                                  {**expected_shapes(parsed["model_config"]),
                                   **_replay_shapes(path, parsed.pop("replay"), parsed)})
            tensors = _read_weights(path, fh, data_start, table, version, meta)
    except OSError as exc:
        raise ModelFileError(path, f"cannot read the file ({exc.strerror or exc})") from None
    model = _build_model(path, parsed["model_config"], tensors)
    if version < 3:
        log.warning("%s: an older model file (format %d): its recipe is not covered by a "
                    "checksum; saving it again upgrades it", path, version)
    log.info("loaded model %s", path)
    return ModelBundle(model=model, **parsed, replay=_replay_from(tensors, parsed["labels"]))
