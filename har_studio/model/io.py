"""The model file (``.harmodel``): the weights and the whole recipe in one safetensors file.

A model file holds everything needed to use a model on new data and to say where it came
from: the network configuration, the window settings, the channel names and units, the
normalisation statistics, the activity names in class order, plus whatever the trainer put in
``recipe`` (split and held-out subjects, training configuration, metrics, data files) and the
package versions that wrote it. The recipe is JSON in the safetensors metadata.

Loading never executes code from the file: the header is parsed as JSON here, the tensors
are read by safetensors (plain numbers), and pickles (``torch.save`` files) are refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write_bytes
from ..data.dataset import CHANNEL_UNITS
from ..data.features import FeatureConfig, derive, output_channels
from ..data.splits import Normaliser
from ..data.windows import WindowConfig
from .config import ViTConfig
from .vit import TimeSeriesViT

log = logging.getLogger(__name__)

FORMAT_NAME = "har-studio-model"
FORMAT_VERSION = 2        # 2 added derived input features ("features"; absent = raw channels)
MODEL_SUFFIX = ".harmodel"
PREDICT_BATCH = 512
_MAX_HEADER_BYTES = 64 * 1024 * 1024
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

    model: TimeSeriesViT
    model_config: ViTConfig
    window: WindowConfig
    channels: list[str]
    labels: list[str]
    normaliser: Normaliser
    recipe: dict = field(default_factory=dict)
    features: FeatureConfig = field(default_factory=FeatureConfig)

    @property
    def input_channels(self) -> list[str]:
        """Names of what the network reads: the channels derived from the raw ``channels``
        by ``features`` (the raw names themselves for the identity features)."""
        return output_channels(self.channels, self.features)

    def derive(self, X: np.ndarray) -> np.ndarray:
        """Raw windows ``[n, size, C]`` -> the network's inputs before normalisation."""
        return derive(X, self.channels, self.features, rate_hz=self.window.rate_hz)[0]

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

    def _batches(self, X: np.ndarray, with_attention: bool):
        if self.model.training:
            self.model.eval()
        Xn = self.normaliser.apply(self.derive(X))
        device = self.device
        with torch.inference_mode():
            for i in range(0, len(Xn), PREDICT_BATCH):
                xb = torch.from_numpy(np.ascontiguousarray(Xn[i:i + PREDICT_BATCH])).to(device)
                if with_attention:
                    logits, attention = self.model.forward_with_attention(xb)
                else:
                    logits, attention = self.model(xb), None
                yield torch.softmax(logits.float(), dim=-1).cpu().numpy(), attention

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``float32 [n, classes]`` for raw-unit windows ``[n, size, C]``."""
        X = self._check_windows(X)
        if len(X) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        return np.concatenate([p for p, _ in self._batches(X, False)]).astype(np.float32)

    def predict_proba_with_attention(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and first-block attention per time patch ``float32 [n, C', patches]``
        (one row per input channel: see ``input_channels``)."""
        X = self._check_windows(X)
        if len(X) == 0:
            return (np.zeros((0, len(self.labels)), np.float32),
                    np.zeros((0, self.model_config.modal, self.model_config.patch_num),
                             np.float32))
        probs, attention = [], []
        for p, a in self._batches(X, True):
            probs.append(p)
            attention.append(a.float().cpu().numpy())
        return (np.concatenate(probs).astype(np.float32),
                np.concatenate(attention).astype(np.float32))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class index (into ``labels``) of the most probable class of each window."""
        return self.predict_proba(X).argmax(axis=1).astype(np.int64)


def package_versions() -> dict[str, str]:
    """Versions recorded in every model file (to explain differences between machines)."""
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
    try:
        text = json.dumps(header, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the model recipe cannot be saved: {exc}") from exc
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous()
               for k, v in bundle.model.state_dict().items()}
    metadata = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "har_studio": text,
                "weights_sha256": _weights_digest(tensors)}
    data = save(tensors, metadata=metadata)
    atomic_write_bytes(path, data)
    log.info("saved model %s (%d bytes)", path, len(data))
    return Path(path)


def _weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of the weights: detects corrupted weights."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
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
    try:
        header = json.loads(fh.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise fail("not a HAR Studio model file (unreadable header)") from None
    if not isinstance(header, dict):
        raise fail("not a HAR Studio model file (unreadable header)")
    return header, 8 + n


def _check_tensors(path: Path, header: dict, data_start: int, size: int) -> None:
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, stop) = info["dtype"], info["shape"], info["data_offsets"]
            count = math.prod(int(s) for s in shape)
            valid = dtype in _DTYPE_BYTES and stop - begin == count * _DTYPE_BYTES[dtype]
        except (KeyError, TypeError, ValueError):
            valid = False
        if not valid:
            raise ModelFileError(path, f"the weight table is corrupt (entry {name!r})")
        if dtype not in _FLOAT_DTYPES:
            raise ModelFileError(path, f"weight {name!r} has non-float type {dtype}")
        end = max(end, stop)
    if data_start + end > size:
        raise ModelFileError(
            path, f"the file is truncated ({size} bytes, the weights need {data_start + end})")


def _field(path: Path, meta: dict, name: str, kind: type):
    if name not in meta:
        raise ModelFileError(path, f"the model recipe has no {name!r} entry")
    value = meta[name]
    if not isinstance(value, kind):
        raise ModelFileError(path, f"the model recipe's {name!r} entry is malformed")
    return value


def _parse_recipe(path: Path, text: str) -> dict:
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        raise ModelFileError(path, "the model recipe is not valid JSON") from None
    if not isinstance(meta, dict):
        raise ModelFileError(path, "the model recipe is malformed")
    parsed = {}
    try:
        parsed["model_config"] = ViTConfig.from_dict(_field(path, meta, "model", dict))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"invalid model configuration: {exc}") from None
    try:
        parsed["window"] = WindowConfig.from_dict(_field(path, meta, "window", dict))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"invalid window configuration: {exc}") from None
    for name in ("channels", "labels"):
        values = _field(path, meta, name, list)
        if not all(isinstance(v, str) and v for v in values) or len(set(values)) != len(values):
            raise ModelFileError(path, f"the model recipe's {name!r} entry is malformed")
        parsed[name] = list(values)
    try:
        parsed["normaliser"] = Normaliser.from_dict(_field(path, meta, "normaliser", dict))
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(path, "the normalisation statistics are malformed") from None
    try:
        parsed["features"] = FeatureConfig.from_dict(meta.get("features"))
        inputs = output_channels(parsed["channels"], parsed["features"])
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"invalid input features: {exc}") from None
    recipe = meta.get("recipe", {})
    if not isinstance(recipe, dict):
        raise ModelFileError(path, "the model recipe's 'recipe' entry is malformed")
    parsed["recipe"] = recipe
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


def _build_model(path: Path, config: ViTConfig, tensors: dict[str, torch.Tensor]) -> TimeSeriesViT:
    model = TimeSeriesViT(config)
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    extra = [k for k in tensors if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if extra:
            parts.append(f"unexpected {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}")
        raise ModelFileError(path, "the weights do not match the model configuration ("
                             + "; ".join(parts) + ")")
    for name, want in expected.items():
        got = tensors[name]
        if tuple(got.shape) != tuple(want.shape):
            raise ModelFileError(
                path, f"weight {name} has shape {list(got.shape)} but the model configuration "
                f"needs {list(want.shape)}")
        if not np.isfinite(got.to(torch.float32).numpy()).all():  # numpy: far faster here
            raise ModelFileError(path, f"weight {name} contains NaN or infinite values")
    model.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()}, strict=True)
    return model.eval()


def _check_version(path: Path, meta: dict) -> None:
    try:
        version = int(meta.get("format_version", ""))
    except (TypeError, ValueError):
        raise ModelFileError(path, "the model file's format version is unreadable") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(path, f"written by a newer HAR Studio (model format {version}; "
                             f"this version reads up to {FORMAT_VERSION}): update HAR Studio")
    if version < 1:
        raise ModelFileError(path, f"unknown model format version {version}")


def load_model(path: str | os.PathLike) -> ModelBundle:
    """Read a model file written by ``save_model``; raises ModelFileError (one line) if the
    file is missing, unreadable, corrupt, truncated, foreign, newer, hostile or inconsistent."""
    from safetensors.torch import load

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            header, data_start = _read_header(path, fh, size)
            meta = header.get("__metadata__")
            if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
                raise ModelFileError(path, "a safetensors file but not a HAR Studio model "
                                     f"(no '{FORMAT_NAME}' format tag)")
            _check_version(path, meta)
            _check_tensors(path, header, data_start, size)
            parsed = _parse_recipe(path, meta.get("har_studio", ""))
            fh.seek(0)
            data = fh.read()
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(path, "is a folder, not a model file") from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot read the file ({exc.strerror or exc})") from None
    try:
        tensors = load(data)
    except Exception as exc:  # safetensors raises its own error types for corrupt data
        raise ModelFileError(path, f"the weights are corrupt ({str(exc).splitlines()[0]})") from None
    expected = meta.get("weights_sha256")
    if expected is not None and expected != _weights_digest(tensors):
        raise ModelFileError(path, "the weights are corrupt (checksum mismatch)")
    model = _build_model(path, parsed["model_config"], tensors)
    log.info("loaded model %s", path)
    return ModelBundle(model=model, **parsed)
