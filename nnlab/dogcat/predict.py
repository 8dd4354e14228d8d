"""P(dog) for image files from a training checkpoint, with either twin.

    predictions = Predictor.from_checkpoint("runs/…/checkpoint.pt").predict_files(paths)

Each file is decoded exactly as the training images were (``decode_image`` at
the checkpoint's image size, then the checkpoint's normalization), and
P(dog) = σ(z) of the model's logit z; the label is "dog" when P(dog) ≥ 0.5.
A file that cannot be read gets an error in its own :class:`Prediction` and
the others are still predicted. A checkpoint written by the scratch twin
loads into the torch model and the reverse (same state_dict keys).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence, TextIO

import numpy as np
import torch

from nnlab.dogcat.checkpoint import CheckpointError, load_checkpoint
from nnlab.dogcat.decode import decode_image
from nnlab.dogcat.models import ModelSpec, build_scratch_model, build_torch_model
from nnlab.dogcat.normalization import Normalization
from nnlab.runtime import resolve_device

THRESHOLD = 0.5


@dataclass
class Prediction:
    """One file's result: ``prob_dog`` and ``label``, or ``error`` when it could not be read."""

    path: str
    prob_dog: float | None = None
    label: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def __str__(self) -> str:
        if self.error is not None:
            return f"{self.path}\terror: {self.error}"
        return f"{self.path}\tP(dog)={self.prob_dog:.4f}\t{self.label}"


def load_model(checkpoint: str | os.PathLike | dict, impl: str = "torch", dtype: str = "float32",
               device: Any = "cpu") -> tuple[Any, ModelSpec, Any]:
    """(model in eval mode, its spec, its normalization) from a checkpoint of either twin."""
    ckpt = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    spec = ModelSpec.from_dict(ckpt["model_spec"])
    if impl == "torch":
        model = build_torch_model(spec, dtype, ckpt["model"], device=device)
    elif impl == "scratch":
        model = build_scratch_model(spec, dtype, ckpt["model"])
    else:
        raise ValueError(f"impl: expected 'torch' or 'scratch', got {impl!r}")
    model.eval()
    return model, spec, Normalization.from_dict(ckpt["normalization"])


class Predictor:
    """A loaded model plus the preprocessing it was trained with."""

    def __init__(self, model: Any, spec: ModelSpec, normalization: Any, impl: str = "torch",
                 device: Any = "cpu", batch_size: int = 256) -> None:
        self.model, self.spec, self.normalization = model, spec, normalization
        self.impl, self.device, self.batch_size = impl, torch.device(device), batch_size

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, impl: str = "torch", device: str = "auto") -> "Predictor":
        if device == "auto":
            device = resolve_device("auto") if impl == "torch" else "cpu"
        dtype = "float32" if impl == "torch" else "float64"
        model, spec, norm = load_model(path, impl=impl, dtype=dtype, device=device)
        return cls(model, spec, norm, impl=impl, device=device)

    @property
    def image_size(self) -> int:
        return int(self.spec.input_shape[-1])

    def probabilities(self, images_uint8: np.ndarray) -> np.ndarray:
        """P(dog) for uint8 images (N, 3, H, W), in batches."""
        out = []
        for s in range(0, len(images_uint8), self.batch_size):
            chunk = np.ascontiguousarray(images_uint8[s:s + self.batch_size])
            if self.impl == "torch":
                x = self.normalization.apply_torch(torch.from_numpy(chunk).to(self.device), torch.float32)
                with torch.no_grad():
                    out.append(torch.sigmoid(self.model(x).double()).cpu().numpy())
            else:
                z = self.model.forward(self.normalization.apply_numpy(chunk, np.float64))
                out.append(1.0 / (1.0 + np.exp(-np.clip(z, -700, 700))))
        return np.concatenate(out) if out else np.zeros(0)

    def predict_files(self, paths: Iterable[str | os.PathLike]) -> list[Prediction]:
        """One :class:`Prediction` per path, in order; unreadable files carry their error."""
        results, images, where = [], [], []
        for p in paths:
            pred = Prediction(str(p))
            results.append(pred)
            try:
                if Path(p).is_dir():
                    raise IsADirectoryError("is a folder, not an image file")
                images.append(decode_image(p, self.image_size))
                where.append(len(results) - 1)
            except Exception as exc:  # every failure is reported for its file, never fatal
                pred.error = _reason(exc)
        if images:
            probs = self.probabilities(np.stack(images))
            for i, prob in zip(where, probs):
                results[i].prob_dog = float(prob)
                results[i].label = "dog" if prob >= THRESHOLD else "cat"
        return results


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, OSError) else f"{type(exc).__name__}: {text}"


def run(checkpoint: str, paths: Sequence[str], impl: str = "torch", device: str = "auto",
        out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print one line per image (errors to ``err``); return 0, or 1 if any file failed."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        predictor = Predictor.from_checkpoint(checkpoint, impl=impl, device=device)
    except CheckpointError as exc:
        print(f"error: {exc}", file=err)
        return 2
    failed = 0
    for pred in predictor.predict_files(paths):
        if pred.ok:
            print(pred, file=out)
        else:
            failed += 1
            print(pred, file=err)
    if failed:
        print(f"{failed} of {len(paths)} files could not be read", file=err)
    return 1 if failed else 0


__all__ = ["Prediction", "Predictor", "load_model", "run", "THRESHOLD"]
