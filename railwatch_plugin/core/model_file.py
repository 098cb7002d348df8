"""Detector model files: the frame network's weights with a small JSON header.

A model file is an ``.npz`` holding the weights the detector runs
(``conv<k>_w`` / ``conv<k>_b``, shaped as ``frame_net.ARCHITECTURE`` says)
and, for an adapted model, ``HEADER_KEY``: UTF-8 JSON saying what it is (its
name, the model it started from, the scenes and number of cars it learnt from,
the date, the validation figures measured when it was made). The shipped
``frame_net.npz`` has no header; it is the model named ``SHIPPED_NAME``.

A model is named in every output as ``label``: its name and the first
characters of a digest of its weights, so two files that happen to share a
name are still told apart, and a count always says which weights made it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from .frame_net import ARCHITECTURE, IN_CHANNELS, WEIGHTS_PATH, FrameNet, conv_layers, load_frame_net

HEADER_KEY = "railwatch_model_json"
FORMAT = "railwatch-frame-net"
FORMAT_VERSION = 1
SHIPPED_NAME = "shipped"


class ModelFileError(ValueError):
    """A model file that cannot be used, with a message a user can act on."""


@dataclass
class DetectorModel:
    net: FrameNet
    name: str
    digest: str  # hex, of the weights
    header: Dict = field(default_factory=dict)
    path: str = ""
    # String support (string_support.py) was measured for the shipped network's
    # confidence; a model adapted to a site runs on its own confidence alone.
    string_support: bool = False

    @property
    def label(self) -> str:
        """How outputs and the site log name this model: ``name@digest8``."""
        return f"{self.name}@{self.digest[:8]}"

    @property
    def weights(self) -> Dict[str, np.ndarray]:
        return self.net.weights


def expected_shapes(architecture=ARCHITECTURE) -> Dict[str, tuple]:
    """Every weight array the architecture needs, with its shape."""
    shapes, c, saved = {}, IN_CHANNELS, None
    layers = iter(conv_layers(architecture))
    for layer in architecture:
        if layer[0] in ("conv", "head"):
            out, (kh, kw), _ = next(layers)
            k = len(shapes) // 2
            shapes[f"conv{k}_w"] = (out, c, kh, kw)
            shapes[f"conv{k}_b"] = (out,)
            c = out
        elif layer[0] == "save":
            saved = c
        elif layer[0] == "concat":
            c += saved
    return shapes


def weights_digest(weights: Dict[str, np.ndarray]) -> str:
    h = hashlib.sha1()
    for key in sorted(weights):
        h.update(key.encode())
        h.update(np.ascontiguousarray(weights[key], np.float32).tobytes())
    return h.hexdigest()


def check_weights(weights: Dict[str, np.ndarray], where: str) -> None:
    """Raise ModelFileError unless ``weights`` are exactly the architecture's, all finite."""
    want = expected_shapes()
    missing = [k for k in want if k not in weights]
    if missing:
        raise ModelFileError(f"{where} is not a RailWatch detector model: it lacks {', '.join(missing[:3])}"
                             f"{' and more' if len(missing) > 3 else ''} (a file of another program or network)")
    wrong = [f"{k} is {tuple(weights[k].shape)}, not {shape}" for k, shape in want.items() if tuple(weights[k].shape) != shape]
    if wrong:
        raise ModelFileError(f"{where} was made for another network layout than this RailWatch's: {wrong[0]}")
    if not all(weights[k].dtype.kind in "fiu" and np.all(np.isfinite(weights[k])) for k in want):
        raise ModelFileError(f"{where} holds weights that are not numbers (NaN or infinite): the model is broken")


def save_model(path: str, weights: Dict[str, np.ndarray], header: Dict) -> None:
    """Write ``weights`` and ``header`` (JSON-able) to ``path``, atomically."""
    check_weights(weights, "the model to save")
    head = dict(header, format=FORMAT, format_version=FORMAT_VERSION)
    blob = np.frombuffer(json.dumps(head, sort_keys=True).encode("utf-8"), np.uint8)
    arrays = {k: np.asarray(weights[k], np.float32) for k in expected_shapes()}
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays, **{HEADER_KEY: blob})
    os.replace(tmp, path)


def read_model_file(path: str) -> tuple:
    """(weights, header) of a model file; header is {} for bare weights (the shipped file)."""
    if not os.path.exists(path):
        raise ModelFileError(f"the model file {path} does not exist")
    if os.path.isdir(path):
        raise ModelFileError(f"{path} is a folder, not a model file")
    if not os.access(path, os.R_OK):
        raise ModelFileError(f"the model file {path} cannot be read: permission denied")
    if not zipfile.is_zipfile(path):  # numpy would call a text file "pickled data"
        raise ModelFileError(f"{path} is not a RailWatch detector model: it is no .npz archive at all "
                             "(a text or other file, or a model file cut short while it was copied)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.array(z[k]) for k in z.files}
    except Exception as exc:  # noqa: BLE001 - zip, pickle or format errors all mean the same to a user
        raise ModelFileError(f"{path} is not a RailWatch detector model: numpy cannot read its arrays ({exc})") from exc
    header = {}
    if HEADER_KEY in arrays:
        try:
            header = json.loads(arrays.pop(HEADER_KEY).astype(np.uint8).tobytes().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"{path}: its header is not readable JSON: {exc}") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ModelFileError(f"{path}: its header is not a RailWatch detector model's")
        version = header.get("format_version", 0)
        if not isinstance(version, int):
            raise ModelFileError(f"{path}: its header's format_version {version!r} is not a number")
        if version > FORMAT_VERSION:
            raise ModelFileError(f"{path} was written by a newer RailWatch (model format "
                                 f"{header.get('format_version')}); update the plugin to use it")
    check_weights(arrays, path)
    return arrays, header


_CACHE: Dict[tuple, DetectorModel] = {}
_CACHE_LOCK = threading.Lock()


def load_model(path: Optional[str] = None) -> DetectorModel:
    """The model in ``path`` (None or "": the shipped one), cached while the file is unchanged."""
    if not path:
        net = load_frame_net()
        if net is None:
            raise ModelFileError(f"The railcar detector's network is missing ({WEIGHTS_PATH}): reinstall the RailWatch plugin.")
        return shipped_model(net)
    path = os.path.abspath(path)
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(f"the model file {path} does not exist") from None
    except OSError as exc:
        raise ModelFileError(f"the model file {path} cannot be read: {exc.strerror or exc}") from exc
    key = (path, stat.st_mtime_ns, stat.st_size)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    weights, header = read_model_file(path)
    name = str(header.get("name") or (SHIPPED_NAME if path == os.path.abspath(WEIGHTS_PATH)
                                      else os.path.splitext(os.path.basename(path))[0]))
    model = model_from_weights(weights, name, header, path)
    with _CACHE_LOCK:
        for old in [k for k in _CACHE if k[0] == path]:
            del _CACHE[old]
        _CACHE[key] = model
    return model


_SHIPPED: Dict[int, DetectorModel] = {}


def shipped_model(net: FrameNet) -> DetectorModel:
    """The shipped network ``net`` as a model, its digest computed once per FrameNet object."""
    with _CACHE_LOCK:
        model = _SHIPPED.get(id(net))
        if model is None or model.net is not net:
            model = DetectorModel(net, SHIPPED_NAME, weights_digest(net.weights), {}, WEIGHTS_PATH, string_support=True)
            _SHIPPED.clear()
            _SHIPPED[id(net)] = model
        return model


def model_from_weights(weights: Dict[str, np.ndarray], name: str, header: Optional[Dict] = None,
                       path: str = "") -> DetectorModel:
    """A model of ``weights``; with string support when they are the shipped network's
    (an adaptation that did not help writes the base weights unchanged)."""
    digest = weights_digest(weights)
    shipped = load_frame_net()
    same_as_shipped = shipped is not None and digest == shipped_model(shipped).digest
    return DetectorModel(FrameNet(weights), name, digest, dict(header or {}), path, string_support=same_as_shipped)
