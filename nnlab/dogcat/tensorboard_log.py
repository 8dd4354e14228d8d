"""TensorBoard logging for both twins through one ``SummaryWriter``.

What is written (tags as TensorBoard shows them):

- scalars ``loss/train``, ``loss/val``, ``accuracy/train``, ``accuracy/val``,
  ``loss/train_recent`` (mean over the last logging interval, left out where that
  interval is the whole epoch: it would repeat ``loss/train``), and ``lr`` at every
  step (the rate that step took);
- histograms ``weights/<name>`` and ``grads/<name>`` per parameter, every
  ``hist_every`` optimizer steps (default: twice an epoch);
- image ``weights/logistic`` — the logistic model's weight vector w ∈ ℝ^30,000
  reshaped to 3x100x100 and mapped to 0.5 + w/(2 max|w|): grey is 0, bright
  pixels push towards "dog", dark ones towards "cat"; a text of the same tag says so;
- image ``weights/conv1_filters`` — the CNN's first-layer filters (C_out of
  3x3x3), each as a small RGB tile mapped to 0.5 + w/(2 max|w|) with its own
  max, enlarged and laid out in a grid: the colours and edges the network
  looks for first;
- image ``val/examples`` — a few validation images captioned with P(dog);
- PR curve ``val/pr_curve``; hparams with the final metrics (only the settings that apply
  to the run's model and optimizer; booleans stored as booleans).

Values may be torch tensors (CPU or CUDA) or NumPy arrays. Histograms are
those of :mod:`nnlab.tensorboard` (on a GPU computed there and fetched in one
small transfer), written as one event per logging step into this run's file.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from nnlab.tensorboard import EventWriter, histogram


def weight_image(weight: Any, image_shape: Sequence[int]) -> np.ndarray:
    """The logistic weight vector as a CHW image in [0, 1]: 0.5 + w / (2 max|w|)."""
    w = weight.detach().float().cpu().numpy() if isinstance(weight, torch.Tensor) else np.asarray(weight)
    w = w.astype(np.float64).reshape(tuple(image_shape))
    scale = float(np.abs(w).max()) or 1.0
    return np.clip(0.5 + w / (2 * scale), 0.0, 1.0).astype(np.float32)


def filter_grid(weight: Any, zoom: int = 8, gap: int = 2) -> np.ndarray:
    """First-layer conv filters (C_out, 3, kh, kw) as one CHW image in [0, 1]: each filter a tile of
    0.5 + w/(2 max|w|) (its own max), enlarged ``zoom`` times, tiles in rows of ⌈√C_out⌉ on a white ground."""
    w = weight.detach().float().cpu().numpy() if isinstance(weight, torch.Tensor) else np.asarray(weight)
    w = w.astype(np.float64)
    if w.ndim != 4 or w.shape[1] != 3:
        raise ValueError(f"filter_grid: expected RGB filters (C_out, 3, kh, kw), got shape {w.shape}")
    n, _, kh, kw = w.shape
    scale = np.abs(w).reshape(n, -1).max(axis=1)
    tiles = 0.5 + w / (2 * np.where(scale > 0, scale, 1.0))[:, None, None, None]
    tiles = tiles.repeat(zoom, axis=2).repeat(zoom, axis=3)
    cols = int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    th, tw = kh * zoom + gap, kw * zoom + gap
    grid = np.ones((3, rows * th + gap, cols * tw + gap))
    for i in range(n):
        r, c = divmod(i, cols)
        grid[:, gap + r * th: gap + r * th + kh * zoom, gap + c * tw: gap + c * tw + kw * zoom] = tiles[i]
    return np.clip(grid, 0.0, 1.0).astype(np.float32)


def captioned_grid(images: np.ndarray, probs: Sequence[float], labels: Sequence[int], tile: int = 100) -> np.ndarray:
    """uint8 images (k, 3, H, W) side by side, each captioned ``P(dog)=0.73`` and its true label.

    Returns an HWC uint8 array; small images are enlarged to ``tile`` pixels.
    """
    from PIL import Image, ImageDraw

    images = np.asarray(images)
    k = len(images)
    caption_h = 26
    canvas = Image.new("RGB", (max(k, 1) * (tile + 4), tile + caption_h), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i in range(k):
        img = Image.fromarray(np.ascontiguousarray(images[i].transpose(1, 2, 0)), "RGB")
        img = img.resize((tile, tile), Image.NEAREST)
        x = i * (tile + 4)
        canvas.paste(img, (x, 0))
        p = float(probs[i])
        truth = "dog" if int(labels[i]) == 1 else "cat"
        ok = (p >= 0.5) == (truth == "dog")
        draw.text((x + 2, tile + 1), f"P(dog)={p:.2f}", fill=(0, 110, 0) if ok else (190, 0, 0))
        draw.text((x + 2, tile + 13), f"true: {truth}", fill=(0, 0, 0))
    return np.asarray(canvas)


#: How to read the image ``weights/logistic`` (written once beside it, in the TEXT tab).
WEIGHT_IMAGE_LEGEND = (
    "**weights/logistic**: each pixel and colour channel is the weight of that input, shown as "
    "0.5 + w / (2 max|w|). Grey is w = 0: that input does not matter. A colour (say red) is what pushes "
    "towards \"dog\": more red there raises P(dog); its complement (cyan: red below grey) is what pushes "
    "towards \"cat\"."
)

#: Histograms per epoch when ``--hist-every`` is not given: even a short run gets a point per half
#: epoch. An event (weights and gradients of every layer) costs about half a training step of the
#: MLP (the 7.7M first-layer weights dominate) and a fraction of one for the logistic model.
HISTOGRAMS_PER_EPOCH = 2


def default_hist_every(steps_per_epoch: int) -> int:
    """The histogram interval for ``steps_per_epoch``: :data:`HISTOGRAMS_PER_EPOCH` an epoch, the last
    at its end (steps_per_epoch / 2, rounded up)."""
    return max(1, -(-int(steps_per_epoch) // HISTOGRAMS_PER_EPOCH))


class TensorBoardLogger:
    """Thin wrapper over ``SummaryWriter`` that accepts tensors and arrays alike.

    ``hist_every`` is the interval, in optimizer steps, of weight and gradient
    histograms (0 turns them off). With ``logdir=None`` every call is a no-op,
    so the training loop never branches on whether logging is on.
    """

    def __init__(self, logdir: str | None, hist_every: int = 200) -> None:
        self.hist_every = int(hist_every)
        self.writer = None
        self._legend_written = False
        if logdir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(logdir))
            self.events = EventWriter(file_writer=self.writer._get_file_writer())

    @property
    def enabled(self) -> bool:
        return self.writer is not None

    def scalars(self, values: Mapping[str, Any], step: int) -> None:
        """One point per tag; a NaN (a metric of an empty validation split) is left out, not drawn."""
        if self.writer is None:
            return
        for tag, value in values.items():
            if not np.isnan(_as_float(value)):
                self.writer.add_scalar(tag, _as_float(value), step)

    def wants_histograms(self, step: int) -> bool:
        return self.writer is not None and self.hist_every > 0 and step % self.hist_every == 0

    def histograms(self, named_values: Iterable[tuple[str, Any]], step: int, prefix: str) -> None:
        """One histogram per (name, values) pair under ``prefix/name``, in one event; skips None and non-finite."""
        if self.writer is None:
            return
        found = ((f"{prefix}/{name}", histogram(values)) for name, values in named_values if values is not None)
        hists = {tag: h for tag, h in found if h is not None}
        if hists:
            self.events.write(step, histograms=hists)

    def logistic_weights(self, weight: Any, image_shape: Sequence[int], step: int) -> None:
        """The image ``weights/logistic``, and once the line that says how to read it (TEXT tab)."""
        if self.writer is not None:
            self.writer.add_image("weights/logistic", weight_image(weight, image_shape), step, dataformats="CHW")
            if not self._legend_written:
                self.events.text("weights/logistic", WEIGHT_IMAGE_LEGEND, step)
                self._legend_written = True

    def conv_filters(self, weight: Any, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image("weights/conv1_filters", filter_grid(weight), step, dataformats="CHW")

    def validation_examples(self, images: np.ndarray, probs: Any, labels: Any, step: int) -> None:
        if self.writer is not None and len(images):
            grid = captioned_grid(images, _as_numpy(probs), _as_numpy(labels))
            self.writer.add_image("val/examples", grid, step, dataformats="HWC")

    def pr_curve(self, labels: Any, probs: Any, step: int) -> None:
        if self.writer is not None:
            self.writer.add_pr_curve(
                "val/pr_curve", _as_numpy(labels).astype(bool), _as_numpy(probs).astype(np.float64), step
            )

    def hparams(self, hparams: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
        """The run's settings beside its final metrics (TensorBoard's HPARAMS tab), in this run's file."""
        if self.writer is None:
            return
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        clean = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hparams.items()}
        metric_tags = {f"hparam/{k}": _as_float(v) for k, v in metrics.items() if not np.isnan(_as_float(v))}
        exp, ssi, sei = hparams_summary(clean, metric_tags)
        _booleans_as_booleans((exp, ssi), {k: v for k, v in clean.items() if isinstance(v, bool)})
        fw = self.writer._get_file_writer()
        for summary in (exp, ssi, sei):
            fw.add_summary(summary)
        for tag, value in metric_tags.items():
            self.writer.add_scalar(tag, value)

    def text(self, tag: str, text: str, step: int) -> None:
        if self.writer is not None:
            self.writer.add_text(tag, text, step)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _booleans_as_booleans(summaries: Sequence[Any], booleans: Mapping[str, bool]) -> None:
    """torch's ``hparams`` stores a bool as the number 1.0 or 0.0 (bool is an int); store it as a
    boolean, so the HPARAMS tab shows true/false and filters by them."""
    if not booleans:
        return
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    for summary in summaries:
        value = summary.value[0]
        data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
        if data.HasField("experiment"):
            for info in data.experiment.hparam_infos:
                if info.name in booleans:
                    info.type = api_pb2.DATA_TYPE_BOOL
        if data.HasField("session_start_info"):
            for name, flag in booleans.items():
                data.session_start_info.hparams[name].bool_value = flag
        value.metadata.plugin_data.content = data.SerializeToString()


def _as_float(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().cpu())
    return float(value)


def _as_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


__all__ = ["TensorBoardLogger", "HISTOGRAMS_PER_EPOCH", "default_hist_every", "weight_image", "filter_grid",
           "captioned_grid"]
