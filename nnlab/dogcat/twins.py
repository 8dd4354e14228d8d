"""The two twins the training loop drives: :class:`TorchTwin` and :class:`ScratchTwin`.

Both share one interface: ``set_epoch_order(order)``, then ``train_step(start, end, draws)``
on the slice ``order[start:end]`` (flipped and shifted by the batch's augmentation
``draws`` when given); ``end_epoch(val_loss)``; running sums of the epoch's loss and
correct count (``read_sums``/``set_sums``); eval-mode ``logits(idx)``; ``state_dict``,
``checkpoint_state``/``load_checkpoint_state``. Each is built from the model spec, the
starting weights, the images' :class:`~nnlab.dogcat.cache.BatchReader` (one reader,
shared by both), the labels, the normalization and its own settings only.

A step is torch's order: zero_grad, forward, loss, backward, [clip the gradients to
``clip_grad``], ``optimizer.step()``, then ``scheduler.step()`` (a per-step schedule;
ReduceLROnPlateau steps in ``end_epoch`` on the validation loss it is given, the same
number for both twins). Dropout masks come from the twin's own NumPy generator seeded
with ``dropout_seed``: two twins seeded alike drop the same units, and the generator's
state is part of the checkpoint, so a resumed run draws the masks it would have drawn.

The loss is the mean binary cross-entropy computed from the logit z in the stable form

    ℓ(z, y) = max(z, 0) − z·y + log(1 + e^(−|z|)),   dℓ/dz = σ(z) − y.

Device path (torch on CUDA): the uint8 images are uploaded once; each step slices
its batch from the on-device permutation and normalizes it there, and losses and
correct counts accumulate in device tensors, read only when the loop asks.

Host path (both twins on the CPU): a :class:`~nnlab.dogcat.feeder.BatchFeeder` reads and
normalizes each batch once, the next one in a background thread while the current one
trains; the loop hands one feeder to both twins, so they train on the very same float
array (the torch twin wraps it without a copy).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

import scratch.clip_grad as scratch_clip
import scratch.lr_scheduler as scratch_schedulers
import scratch.optim as scratch_optim
import torch_ref.clip_grad as torch_clip
import torch_ref.lr_scheduler as torch_schedulers
from nnlab.dogcat import distributed as dist_utils
from nnlab.dogcat.augment import AugmentDraws, augment_numpy, augment_torch
from nnlab.dogcat.cache import BatchReader
from nnlab.dogcat.checkpoint import to_numpy_tree
from nnlab.dogcat.feeder import BatchFeeder
from nnlab.dogcat.models import (
    NUMPY_DTYPES, TORCH_DTYPES, ModelSpec, build_scratch_model, build_torch_model, to_numpy_state,
)
from nnlab.dogcat.schedules import SchedulePlan, build_scheduler
from scratch.losses import BCEWithLogitsLoss
from torch_ref.module import load_scratch_state


class _TrainingControl:
    """What both twins add around ``optimizer.step()``: clipping before it, the schedule after it, and the
    dropout generator; kept in the checkpoint alike."""

    def _setup_control(self, schedulers: Any, schedule: SchedulePlan, clip_grad: float | None) -> None:
        self.schedule, self.clip_grad = schedule, clip_grad
        self.scheduler = build_scheduler(schedulers, self.optimizer, schedule)

    def _after_step(self) -> None:
        if self.scheduler is not None and not self.schedule.per_epoch:
            self.scheduler.step()

    def end_epoch(self, val_loss: float) -> None:
        """Step ReduceLROnPlateau on ``val_loss`` (pass both twins the same value: lockstep)."""
        if self.scheduler is not None and self.schedule.per_epoch:
            self.scheduler.step(float(val_loss))

    def _control_state(self) -> dict:
        state = {"dropout_rng": self.dropout_rng.bit_generator.state}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        return state

    def _load_control_state(self, state: Mapping) -> None:
        """After the optimizer's state, as torch prescribes for schedulers."""
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        if "dropout_rng" in state:
            self.dropout_rng.bit_generator.state = _plain(state["dropout_rng"])


def _plain(obj: Any) -> Any:
    """A generator state as NumPy takes it back: plain ints and dicts (a checkpoint may hold tensors)."""
    if isinstance(obj, torch.Tensor):
        return obj.item()
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


class TorchTwin(_TrainingControl):
    """The torch model, optimizer and batches: on CUDA the whole uint8 set lives on the device.

    ``optimizer``: (class name in ``torch.optim``, its arguments). ``resident``: cut batches
    from a copy of the images on ``device`` (default: on CUDA only). ``amp``: autocast to
    bfloat16 (float16 with gradient scaling where bfloat16 is missing). ``compile``:
    normalization, forward and loss as one ``torch.compile`` graph.
    """

    name = "torch"

    def __init__(self, spec: ModelSpec, init_state: Mapping, reader: BatchReader, labels: np.ndarray,
                 normalization: Any, *, dtype: str, optimizer: tuple[str, dict], device: torch.device,
                 ctx: dist_utils.DistContext = dist_utils.DistContext(), amp: bool = False,
                 compile: bool = False, resident: bool | None = None, eval_batch_size: int = 1024,
                 schedule: SchedulePlan = SchedulePlan(), clip_grad: float | None = None,
                 dropout_seed: Any = 0, feeder: BatchFeeder | None = None) -> None:
        self.ctx, self.device, self.eval_batch_size = ctx, device, eval_batch_size
        self.np_dtype, self.dtype = NUMPY_DTYPES[dtype], TORCH_DTYPES[dtype]
        self.normalization = normalization
        self.dropout_rng = np.random.default_rng(dropout_seed)
        self.module = build_torch_model(spec, dtype, init_state, device=device, dropout_rng=self.dropout_rng)
        # the CNN in channels-last (NHWC) layout: oneDNN's convolutions and max-pooling run there without
        # reordering (measured on the CPU: a quarter less CPU time per step at batch 64), and cuDNN's tensor-core
        # convolutions take NHWC directly (it keeps float64 in NCHW: there NHWC would only add reorders)
        nhwc = spec.kind == "cnn" and (device.type == "cpu" or dtype != "float64")
        self.memory_format = torch.channels_last if nhwc else torch.contiguous_format
        self.module = self.module.to(memory_format=self.memory_format)
        if ctx.distributed:
            self.module = dist_utils.prepare_batchnorm(self.module, ctx)
        self.model = dist_utils.wrap_model(self.module, ctx) if ctx.distributed else self.module
        # compile: normalization, forward and loss become one compiled graph (fused kernels)
        self.step_loss = torch.compile(self._forward_loss) if compile else self._forward_loss
        cls_name, kwargs = optimizer[0], dict(optimizer[1])
        if device.type == "cuda" and cls_name in ("SGD", "Adam", "AdamW"):
            kwargs["fused"] = True  # one kernel per step for all parameters; no host sync
        self.optimizer = getattr(torch.optim, cls_name)(self.module.parameters(), **kwargs)
        self._setup_control(torch_schedulers, schedule, clip_grad)
        self.amp_dtype = None
        self.scaler = None
        if amp:
            bf16 = device.type == "cpu" or torch.cuda.is_bf16_supported()
            self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
            if not bf16:
                self.scaler = torch.amp.GradScaler("cuda")
        # on CUDA by default: the uint8 set is uploaded once, batches are cut and normalized there
        self.resident = device.type == "cuda" if resident is None else bool(resident)
        self.reader, self.labels_np = reader, np.asarray(labels)
        if self.resident:
            self.images = upload_uint8(reader, device)
            self.labels = torch.from_numpy(self.labels_np).to(device=device, dtype=self.dtype)
        elif device.type == "cpu":  # float batches from the host feeder, shared with a scratch twin if given
            self.feeder = feeder or BatchFeeder(reader, normalization, self.np_dtype)
        self.sums = torch.zeros(2, dtype=torch.float64, device=device)  # Σ loss, Σ correct (this process)
        self.count = 0  # images in the epoch's global batches so far: known on the host, no sync
        self._val_idx_cache: tuple[int, torch.Tensor] | None = None

    # batches
    def set_epoch_order(self, order: np.ndarray) -> None:
        self.order = torch.from_numpy(order).to(self.device) if self.resident else order

    def _gather(self, idx: Any, draws: AugmentDraws | None = None,
                next_idx: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (augmented by ``draws``) and float labels of ``idx`` on the device: uint8 to be normalized
        there, or on the CPU the feeder's normalized floats (``next_idx``: the batch to prepare meanwhile)."""
        if self.resident:
            x_u8 = self.images.index_select(0, idx)
            return (x_u8 if draws is None else augment_torch(x_u8, draws)), self.labels.index_select(0, idx)
        y = torch.from_numpy(self.labels_np[idx].astype(self.np_dtype))
        if self.device.type == "cpu":  # normalized floats from the feeder (shared memory, no copy)
            return torch.from_numpy(self.feeder.batch(idx, draws, next_idx)), y
        # a copy to another device gets an array of its own (the reader's buffer is reused)
        out = np.empty((len(idx), *self.reader.row_shape), np.uint8) if draws is None else None
        rows = self.reader.read(idx, out=out)
        x_u8 = torch.from_numpy(rows if draws is None else augment_numpy(rows, draws))
        return x_u8.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def _forward_loss(self, x_u8: torch.Tensor, y: torch.Tensor, n_global: int):
        """[Normalize,] forward, loss: (loss to differentiate, Σ per-image loss, correct count)."""
        x = self.normalization.apply_torch(x_u8, self.dtype) if x_u8.dtype == torch.uint8 else x_u8
        x = x.contiguous(memory_format=self.memory_format)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            logits = self.model(x)
        logits = logits.to(y.dtype)
        if self.ctx.world_size > 1:
            # DDP averages gradients over processes: scaling each shard's sum by
            # world/n_global makes the average the mean over the global batch,
            # whatever the shard sizes.
            loss_sum = F.binary_cross_entropy_with_logits(logits, y, reduction="sum")
            loss = loss_sum * (self.ctx.world_size / n_global)
        else:
            loss = F.binary_cross_entropy_with_logits(logits, y)
            loss_sum = loss * y.shape[0]
        correct = ((logits.detach() > 0) == (y > 0.5)).sum()
        return loss, loss_sum.detach(), correct

    def train_step(self, start: int, end: int, draws: AugmentDraws | None = None) -> torch.Tensor:
        """One optimizer step on batch ``order[start:end]`` (this process's shard of it, and of the batch's
        augmentation ``draws``); no host sync."""
        idx, next_idx = self.order[start:end], self.order[end:2 * end - start]  # the next batch, if as long
        n_global = end - start
        if self.ctx.world_size > 1:
            idx, next_idx = dist_utils.shard(idx, self.ctx), dist_utils.shard(next_idx, self.ctx)
            draws = None if draws is None else draws.shard(self.ctx.rank, self.ctx.world_size)
        x_u8, y = self._gather(idx, draws, next_idx)
        self.module.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss, loss_sum, correct = self.step_loss(x_u8, y, n_global)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if self.clip_grad is not None:
                self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
                torch_clip.clip_grad_norm_(self.module.parameters(), self.clip_grad)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            if self.clip_grad is not None:
                torch_clip.clip_grad_norm_(self.module.parameters(), self.clip_grad)
            self.optimizer.step()
        self._after_step()
        with torch.no_grad():
            self.sums += torch.stack([loss_sum.double(), correct.double()])
        self.count += n_global
        return loss_sum / max(y.shape[0], 1)

    def read_sums(self) -> tuple[float, float, float]:
        """(Σ loss, Σ correct, n) of the epoch so far, over all processes (one sync)."""
        s = self.sums.clone()
        if self.ctx.world_size > 1:
            dist_utils.all_reduce_sum(s)
        loss_sum, correct = s.cpu().tolist()
        return loss_sum, correct, float(self.count)

    def set_sums(self, values: Sequence[float]) -> None:
        """Restore the epoch sums (process 0 holds the restored totals, the others start at 0)."""
        loss_sum, correct, n = (float(v) for v in values)
        v = [loss_sum, correct] if self.ctx.rank == 0 else [0.0, 0.0]
        self.sums = torch.tensor(v, dtype=torch.float64, device=self.device)
        self.count = int(n)

    # evaluation
    @torch.no_grad()
    def logits(self, idx: np.ndarray) -> np.ndarray:
        """Eval-mode logits for ``idx`` (float64 on the host)."""
        self.module.eval()
        out = []
        if self.resident:
            if self._val_idx_cache is None or self._val_idx_cache[0] != id(idx):
                self._val_idx_cache = (id(idx), torch.from_numpy(np.asarray(idx)).to(self.device))
            idx_t = self._val_idx_cache[1]
        bs = self.eval_batch_size
        for s in range(0, len(idx), bs):
            if self.device.type == "cpu" and not self.resident:
                x = torch.from_numpy(self.feeder.eval_batch(idx[s:s + bs]))
            else:
                x_u8, _ = self._gather(idx_t[s:s + bs] if self.resident else idx[s:s + bs])
                x = self.normalization.apply_torch(x_u8, self.dtype)
            x = x.contiguous(memory_format=self.memory_format)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                out.append(self.module(x).double())
        self.module.train()
        return torch.cat(out).cpu().numpy() if out else np.zeros(0)

    # state
    def state_dict(self) -> dict:
        return dict(self.module.state_dict())

    def named_parameters(self):
        return [(n, p.detach()) for n, p in self.module.named_parameters()]

    def named_grads(self):
        return [(n, p.grad) for n, p in self.module.named_parameters()]

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def parameters_finite(self) -> bool:
        flags = [torch.isfinite(p).all() for p in self.module.parameters()]
        return bool(torch.stack(flags).all()) if flags else True

    def checkpoint_state(self) -> dict:
        state = {"model": self.state_dict(), "optimizer": self.optimizer.state_dict(), **self._control_state()}
        if self.scaler is not None:
            state["grad_scaler"] = self.scaler.state_dict()
        return state

    def load_checkpoint_state(self, state: Mapping) -> None:
        load_scratch_state(self.module, state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._load_control_state(state)
        if self.scaler is not None and "grad_scaler" in state:
            self.scaler.load_state_dict(state["grad_scaler"])


class ScratchTwin(_TrainingControl):
    """The NumPy model and optimizer, fed from the uint8 images on the host."""

    name = "scratch"

    def __init__(self, spec: ModelSpec, init_state: Mapping, reader: BatchReader, labels: np.ndarray,
                 normalization: Any, *, dtype: str, optimizer: tuple[str, dict], eval_batch_size: int = 1024,
                 schedule: SchedulePlan = SchedulePlan(), clip_grad: float | None = None,
                 dropout_seed: Any = 0, feeder: BatchFeeder | None = None) -> None:
        self.np_dtype, self.eval_batch_size = NUMPY_DTYPES[dtype], eval_batch_size
        self.normalization = normalization
        self.dropout_rng = np.random.default_rng(dropout_seed)
        self.module = build_scratch_model(spec, dtype, init_state, dropout_rng=self.dropout_rng)
        cls_name, kwargs = optimizer
        self.params = list(self.module.parameters())
        self.optimizer = getattr(scratch_optim, cls_name)(self.params, **kwargs)
        self._setup_control(scratch_schedulers, schedule, clip_grad)
        self.loss_fn = BCEWithLogitsLoss()
        self.reader, self.labels = reader, np.asarray(labels)
        self.feeder = feeder or BatchFeeder(reader, normalization, self.np_dtype)
        self.sums = [0.0, 0.0, 0.0]

    def set_epoch_order(self, order: np.ndarray) -> None:
        self.order = order

    def train_step(self, start: int, end: int, draws: AugmentDraws | None = None) -> float:
        idx = self.order[start:end]
        x = self.feeder.batch(idx, draws, next_idx=self.order[end:2 * end - start])
        y = self.labels[idx].astype(self.np_dtype)
        self.module.train()
        self.optimizer.zero_grad()
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported as a NaN loss below
            logits = self.module.forward(x)
        if not np.isfinite(logits).all():
            self.sums[0] += float("nan")
            return float("nan")
        loss = float(self.loss_fn.forward(logits, y))
        self.module.backward(self.loss_fn.backward())  # dℓ/dz = (σ(z) − y)/N
        if self.clip_grad is not None:
            scratch_clip.clip_grad_norm_(self.params, self.clip_grad)
        self.optimizer.step()
        self._after_step()
        n = len(y)
        self.sums[0] += loss * n
        self.sums[1] += float(np.count_nonzero((logits > 0) == (y > 0.5)))
        self.sums[2] += n
        return loss

    def read_sums(self) -> tuple[float, float, float]:
        return tuple(self.sums)

    def set_sums(self, values: Sequence[float]) -> None:
        self.sums = [float(v) for v in values]

    def logits(self, idx: np.ndarray) -> np.ndarray:
        self.module.eval()
        out = [self.module.forward(self.feeder.eval_batch(idx[s:s + self.eval_batch_size]))
               for s in range(0, len(idx), self.eval_batch_size)]
        self.module.train()
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def state_dict(self) -> dict:
        return dict(self.module.state_dict())

    def named_parameters(self):
        return [(n, p.data) for n, p in self.module.named_parameters()]

    def named_grads(self):
        return [(n, p.grad) for n, p in self.module.named_parameters()]

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def parameters_finite(self) -> bool:
        return all(bool(np.isfinite(p.data).all()) for p in self.module.parameters())

    def checkpoint_state(self) -> dict:
        return {"model": self.state_dict(), "optimizer": self.optimizer.state_dict(), **self._control_state()}

    def load_checkpoint_state(self, state: Mapping) -> None:
        self.module.load_state_dict(to_numpy_state(state["model"]))
        self.optimizer.load_state_dict(to_numpy_tree(state["optimizer"]))
        self._load_control_state(state)


def upload_uint8(reader: BatchReader, device: torch.device, chunk: int = 2048) -> torch.Tensor:
    """Copy the reader's (possibly memory-mapped) uint8 images to ``device`` in chunks, never all in
    host RAM (a memory-mapped cache is read with positional reads, so its pages are not mapped in either)."""
    n = len(reader.images)
    out = torch.empty((n, *reader.row_shape), dtype=torch.uint8, device=device)
    buffer = np.empty((min(chunk, n), *reader.row_shape), dtype=np.uint8)
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        rows = reader.read(np.arange(s, e), out=buffer[:e - s])
        out[s:e].copy_(torch.from_numpy(rows))  # synchronous: the buffer is reused
    return out


__all__ = ["TorchTwin", "ScratchTwin", "upload_uint8"]
