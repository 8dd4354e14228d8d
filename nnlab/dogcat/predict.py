"""P(dog) for image files and folders from a training checkpoint, with either twin, and the
scores where the folders' layout gives labels.

    predictions = Predictor.from_checkpoint("runs/…/checkpoint.pt").predict_files(paths)
    run("runs/…/checkpoint.pt", ["photos/"], json_path="eval.json")   # what scripts/predict.py does

Each file is decoded exactly as the training images were (``decode_image`` at
the checkpoint's image size, then the checkpoint's normalization), and
P(dog) = σ(z) of the model's logit z; the label is "dog" when P(dog) ≥ 0.5.
A file that cannot be read gets an error in its own :class:`Prediction` and
the others are still predicted. A checkpoint written by the scratch twin
loads into the torch model and the reverse (same state_dict keys).

Files are decoded and predicted in batches (``batch_size``), the next batches decoding in
worker processes while the model runs on the current one, so memory stays bounded
(a few batches of uint8 images) however many files a folder holds. The scores are
:mod:`nnlab.dogcat.evaluate`'s.
"""

from __future__ import annotations

import collections
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, TextIO

import numpy as np
import torch

from nnlab.dogcat import decode as _decode
from nnlab.dogcat.checkpoint import CheckpointError, load_checkpoint
from nnlab.dogcat.evaluate import CLASS_NAMES, binary_evaluation, collect_targets, format_evaluation
from nnlab.dogcat.models import ModelSpec, build_scratch_model, build_torch_model
from nnlab.dogcat.normalization import Normalization
from nnlab.dogcat.run_folder import write_json
from nnlab.runtime import available_cores, resolve_device

THRESHOLD = 0.5


@dataclass
class Prediction:
    """One file's result: ``prob_dog`` and ``label``, or ``error`` when it could not be read;
    ``true_label`` (0 cat, 1 dog) when the folder's layout gives one."""

    path: str
    prob_dog: float | None = None
    label: str | None = None
    error: str | None = None
    true_label: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def __str__(self) -> str:
        if self.error is not None:
            return f"{self.path}\terror: {self.error}"
        truth = "" if self.true_label is None else f"\t(true: {CLASS_NAMES[self.true_label]})"
        return f"{self.path}\tP(dog)={self.prob_dog:.4f}\t{self.label}{truth}"


def _weights_problem(spec: ModelSpec, state: Any) -> str | None:
    """What keeps ``state`` from loading into the model ``spec`` describes (keys and shapes), or None."""
    if not isinstance(state, dict):
        return f"its weights are a {type(state).__name__}, not a state_dict"
    expected = {k: tuple(v.shape) for k, v in build_torch_model(spec, "float32").state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [f"{k} {tuple(getattr(state[k], 'shape', ()))} where the model has {expected[k]}"
              for k in sorted(set(expected) & set(state)) if tuple(getattr(state[k], "shape", ())) != expected[k]]
    problems = ([f"missing {', '.join(missing)}"] if missing else []) + \
               ([f"unexpected {', '.join(unexpected)}"] if unexpected else []) + shapes
    return "; ".join(problems) or None


def load_model(checkpoint: str | os.PathLike | dict, impl: str = "torch", dtype: str = "float32",
               device: Any = "cpu") -> tuple[Any, ModelSpec, Any]:
    """(model in eval mode, its spec, its normalization) from a checkpoint of either twin.

    A checkpoint whose model description, weights (missing or unexpected keys, wrong shapes)
    or normalization do not fit together is a CheckpointError saying which.
    """
    ckpt = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    where = "the checkpoint" if isinstance(checkpoint, dict) else str(checkpoint)
    try:
        spec = ModelSpec.from_dict(ckpt["model_spec"])
        normalization = Normalization.from_dict(ckpt["normalization"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{where} has the dog/cat format but no usable model description or normalization "
                              f"({type(exc).__name__}: {exc})") from exc
    problem = _weights_problem(spec, ckpt.get("model"))
    if problem:
        raise CheckpointError(f"{where} has the dog/cat format but its weights do not fit its model "
                              f"({spec.describe()}): {problem}")
    if impl == "torch":
        model = build_torch_model(spec, dtype, ckpt["model"], device=device)
    elif impl == "scratch":
        model = build_scratch_model(spec, dtype, ckpt["model"])
    else:
        raise ValueError(f"impl: expected 'torch' or 'scratch', got {impl!r}")
    model.eval()
    return model, spec, normalization


def _decode_list(paths: Sequence[str], size: int) -> list[tuple[np.ndarray | None, str | None]]:
    """``(image, None)`` or ``(None, reason)`` per path; never raises for a bad file."""
    out = []
    for path in paths:
        try:
            if Path(path).is_dir():
                raise IsADirectoryError("is a folder, not an image file")
            out.append((_decode.decode_image(path, size), None))
        except Exception as exc:  # every failure is reported for its file, never fatal
            out.append((None, _reason(exc)))
    return out


def _decoded_batches(paths: Sequence[str], size: int, batch_size: int, workers: int):
    """The decoded batches of ``paths`` in order; with workers, up to ``workers + 1`` batches decode
    ahead of the one being used (bounded memory), in processes that die with this one."""
    starts = range(0, len(paths), batch_size)
    if workers <= 1:
        for start in starts:
            yield _decode_list(paths[start:start + batch_size], size)
        return
    pool = ProcessPoolExecutor(workers, _decode._pool_context(), initializer=_decode.die_with_parent,
                               initargs=(os.getpid(),))
    try:
        pending: collections.deque = collections.deque()
        todo = iter(starts)
        for start in todo:
            pending.append(pool.submit(_decode_list, paths[start:start + batch_size], size))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


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
        elif impl == "torch":
            device = resolve_device(device)  # --device cuda without CUDA: a RuntimeError that says what to pass
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

    def predict_stream(self, targets: Iterable, workers: int | None = None) -> Iterator[Prediction]:
        """One :class:`Prediction` per target (a path, or ``(path, true label or None)``), in order,
        batch by batch. ``workers`` decode processes (default: one per core for 256 files or more)."""
        targets = [(str(t), None) if isinstance(t, (str, os.PathLike)) else (str(t[0]), t[1]) for t in targets]
        if workers is None:
            workers = available_cores() if len(targets) >= 256 else 1
        paths = [path for path, _ in targets]
        done = 0
        for decoded in _decoded_batches(paths, self.image_size, self.batch_size, workers):
            batch = [Prediction(path, true_label=label) for path, label in targets[done:done + len(decoded)]]
            done += len(decoded)
            good = [i for i, (image, _) in enumerate(decoded) if image is not None]
            for pred, (_, error) in zip(batch, decoded):
                pred.error = error
            if good:
                probs = self.probabilities(np.stack([decoded[i][0] for i in good]))
                for i, prob in zip(good, probs):
                    batch[i].prob_dog = float(prob)
                    batch[i].label = "dog" if prob >= THRESHOLD else "cat"
            yield from batch

    def predict_files(self, paths: Iterable[str | os.PathLike]) -> list[Prediction]:
        """One :class:`Prediction` per path, in order; unreadable files carry their error."""
        return list(self.predict_stream(list(paths), workers=1))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, _decode.UnreadableImageError):
        return exc.reason  # the line already names the file
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, OSError) else f"{type(exc).__name__}: {text}"


def run(checkpoint: str, paths: Sequence[str], impl: str = "torch", device: str = "auto",
        out: TextIO | None = None, err: TextIO | None = None, json_path: str | None = None,
        quiet: bool = False, workers: int | None = None) -> int:
    """Predict image files and folders: a line per image (errors to ``err``; none with ``quiet``),
    then the scores of the labelled ones (:mod:`nnlab.dogcat.evaluate`), and ``json_path`` holding
    both. Returns 0; 1 if a file named in ``paths`` could not be read (unreadable files found in a
    folder are counted and listed, as in training); 2 for an unusable checkpoint or device, or no
    image at all."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        predictor = Predictor.from_checkpoint(checkpoint, impl=impl, device=device)
    except (CheckpointError, RuntimeError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    targets, sources = collect_targets(paths)
    for line in sources:
        print(line, file=err)
    if not targets:
        print(f"error: no image files in {', '.join(map(str, paths))}", file=err)
        return 2
    named = {str(p) for p in paths if not Path(p).is_dir()}
    predictions, failed_named, failed_found = [], 0, []
    for pred in predictor.predict_stream(targets, workers=workers):
        predictions.append(pred)
        if not pred.ok:
            if pred.path in named:
                failed_named += 1
            else:
                failed_found.append(pred)
        if (pred.ok and not quiet) or pred.path in named and not pred.ok:
            print(pred, file=out if pred.ok else err)
    if failed_found:
        shown = "; ".join(f"{Path(p.path).name}: {p.error}" for p in failed_found[:3])
        more = f"; and {len(failed_found) - 3} more" if len(failed_found) > 3 else ""
        print(f"{len(failed_found)} unreadable files skipped ({shown}{more})", file=err)
    if failed_named:
        print(f"{failed_named} of {len(named)} files could not be read", file=err)
    labelled = [p for p in predictions if p.ok and p.true_label is not None]
    scores = binary_evaluation([p.true_label for p in labelled], [p.prob_dog for p in labelled],
                               THRESHOLD) if labelled else None
    if scores is not None:
        print(format_evaluation(scores), file=out)
    if json_path:
        write_json(json_path, {
            "checkpoint": str(checkpoint), "inputs": [str(p) for p in paths], "sources": sources,
            "impl": impl, "threshold": THRESHOLD, "scores": scores,
            "unreadable": [{"path": p.path, "error": p.error} for p in predictions if not p.ok],
            "predictions": [{"path": p.path, "prob_dog": p.prob_dog, "label": p.label,
                             "true_label": None if p.true_label is None else CLASS_NAMES[p.true_label]}
                            for p in predictions if p.ok],
        })
    return 1 if failed_named else 0


__all__ = ["Prediction", "Predictor", "load_model", "run", "THRESHOLD"]
