"""Training loop for the dog/cat classifier: torch, scratch, or both in lockstep.

The model outputs a logit z; P(dog) = σ(z). Training minimizes the mean binary
cross-entropy, the negative Bernoulli log-likelihood, computed from logits in
the stable form

    ℓ(z, y) = max(z, 0) − z·y + log(1 + e^(−|z|)),   dℓ/dz = σ(z) − y.

One loop drives one or two *twins* (:class:`TorchTwin`, :class:`ScratchTwin`)
that share an interface: each epoch has a seeded permutation of the training
indices (a pure function of ``seed`` and the epoch number, so a resumed run
replays it exactly), and every step hands the same slice of it to each twin.
With ``impl="both"`` the twins start from the same weights and see the same
batches, and after each epoch the largest parameter difference between them
is reported: the parity proof on real data.

Device path (torch on CUDA): the uint8 images are uploaded once; each step
slices its batch from the on-device permutation and normalizes it there. The
loop never calls ``.item()`` per step: losses and correct counts accumulate
in device tensors and are read every ``log_every`` steps (once per step on
CPU, where reading costs nothing), which is also where a NaN/inf loss is
detected. A diverged run stops with :class:`TrainingDiverged`; checkpoints
are only written after their parameters were checked finite, so the last one
on disk is always good.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from nnlab.dogcat import checkpoint as ckpt_io
from nnlab.dogcat import distributed as dist_utils
from nnlab.dogcat.models import (
    ModelSpec, build_scratch_model, build_torch_model, initial_state_dict,
    max_parameter_difference, to_numpy_state, NUMPY_DTYPES, TORCH_DTYPES,
)
from nnlab.dogcat.tensorboard_log import TensorBoardLogger
from scratch.activations import sigmoid

IMPLS = ("torch", "scratch", "both")
DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")
DTYPES = ("float32", "float64")


@dataclass
class TrainConfig:
    """Every setting of a run; saved in the checkpoint and the TensorBoard hparams."""

    data: str | None = None
    image_size: int = 100
    model: str = "logistic"
    hidden: list = field(default_factory=lambda: [256])
    activation: str = "relu"
    batchnorm: bool = False
    impl: str = "torch"
    device: str = "auto"
    amp: bool = False
    compile: bool = False
    resident_data: bool | None = None
    dtype: str = "float32"
    optimizer: str = "adam"
    lr: float = 1e-4
    momentum: float = 0.9
    weight_decay: float | None = None
    batch_size: int = 128
    epochs: int = 15
    seed: int = 0
    val_fraction: float = 0.2
    logdir: str | None = None
    tensorboard: bool = True
    hist_every: int = 200
    log_every: int = 50
    checkpoint_every: int = 0
    max_steps: int | None = None
    eval_batch_size: int = 1024
    val_examples: int = 8
    cache_dir: str | None = None
    workers: int | None = None
    progress: bool = True

    def validate(self) -> "TrainConfig":
        def one_of(name, options):
            if getattr(self, name) not in options:
                raise ValueError(f"{name}: expected one of {options}, got {getattr(self, name)!r}")

        one_of("impl", IMPLS)
        one_of("device", DEVICES)
        one_of("optimizer", OPTIMIZERS)
        one_of("dtype", DTYPES)
        for name in ("batch_size", "epochs", "image_size", "eval_batch_size"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name}: expected a positive integer, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr: expected a positive finite learning rate, got {self.lr}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction: expected a value in (0, 1), got {self.val_fraction}")
        if self.impl != "torch" and self.amp:
            raise ValueError("--amp applies to the torch twin only; use it with --impl torch")
        if self.impl == "scratch" and self.device == "cuda":
            raise ValueError("--impl scratch runs on the CPU (NumPy); use --device cpu or auto")
        if self.max_steps is not None and self.max_steps <= 0:
            raise ValueError(f"max_steps: expected a positive integer, got {self.max_steps}")
        self.hidden = [int(h) for h in self.hidden]
        return self

    def model_spec(self, input_shape: Sequence[int]) -> ModelSpec:
        return ModelSpec(
            kind=self.model, input_shape=tuple(input_shape), hidden=tuple(self.hidden),
            activation=self.activation, batchnorm=self.batchnorm,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def describe(self) -> str:
        """Run-folder suffix, e.g. ``logistic-torch-adam-lr0.0001-bs128``."""
        spec = ModelSpec(self.model, (3, self.image_size, self.image_size), tuple(self.hidden),
                         self.activation, self.batchnorm)
        return f"{spec.describe()}-{self.impl}-{self.optimizer}-lr{self.lr:g}-bs{self.batch_size}"


def default_logdir(config: TrainConfig, root: str = "runs") -> str:
    """``runs/<timestamp>-<config>``."""
    return str(Path(root) / f"{datetime.now():%Y%m%d-%H%M%S}-{config.describe()}")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message says where and which checkpoint is good."""


@dataclass
class TrainResult:
    """What a run produced, for scripts and tests."""

    history: list
    final_states: dict
    confusion: np.ndarray | None
    parity: list
    logdir: str
    checkpoint_path: str | None
    global_step: int
    finished: bool
    seconds: float
    data_description: str = ""


# -- data --------------------------------------------------------------------


@dataclass
class ArrayData:
    """In-memory data in the shape ``load_dogcat`` returns: uint8 (N, 3, H, W) and 0/1 labels."""

    images: np.ndarray
    labels: np.ndarray
    description: str = "arrays"


def epoch_order(train_idx: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The epoch's shuffled training indices: a pure function of (seed, epoch)."""
    return np.random.default_rng([int(seed), int(epoch), 0x5EED]).permutation(train_idx)


def split_indices(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from nnlab.dogcat.data import stratified_split

    train_idx, val_idx = stratified_split(np.asarray(labels), val_fraction=val_fraction, seed=seed)
    return np.asarray(train_idx, dtype=np.int64), np.asarray(val_idx, dtype=np.int64)


def load_training_data(config: TrainConfig, log: Callable[[str], None] = print) -> tuple[Any, str]:
    """The photos named by ``--data`` / ``$DOGCAT_DATA`` / the shared sample, else a synthetic set."""
    from nnlab.dogcat import data as dd

    root, how = dd.resolve_data_root(config.data)
    log(how)
    synthetic = root is None
    if synthetic:
        root = dd.synthetic_dogcat(None, size=config.image_size, seed=0)
    data = dd.load_dogcat(root, size=config.image_size, cache_dir=config.cache_dir,
                          workers=config.workers, progress=config.progress)
    if not config.progress:  # with progress on, load_dogcat prints this line itself
        log(data.summary())
    return data, ("SYNTHETIC images in " if synthetic else "") + str(root)


def default_normalization():
    from nnlab.dogcat.data import DEFAULT_NORMALIZATION

    return DEFAULT_NORMALIZATION


# -- the twins ---------------------------------------------------------------


def optimizer_kwargs(config: TrainConfig) -> tuple[str, dict]:
    """Class name in ``torch.optim`` / ``scratch.optim`` and its arguments."""
    wd = config.weight_decay
    if wd is None:
        wd = 1e-2 if config.optimizer == "adamw" else 0.0  # torch's defaults
    if config.optimizer == "sgd":
        return "SGD", dict(lr=config.lr, weight_decay=wd)
    if config.optimizer == "momentum":
        return "SGD", dict(lr=config.lr, momentum=config.momentum, weight_decay=wd)
    name = {"adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}[config.optimizer]
    return name, dict(lr=config.lr, weight_decay=wd)


class TorchTwin:
    """The torch model, optimizer and batches: on CUDA the whole uint8 set lives on the device."""

    name = "torch"

    def __init__(self, spec: ModelSpec, config: TrainConfig, init_state: Mapping, data: Any,
                 normalization: Any, device: torch.device, ctx: dist_utils.DistContext) -> None:
        self.config, self.ctx, self.device = config, ctx, device
        self.dtype = TORCH_DTYPES[config.dtype]
        self.normalization = normalization
        self.module = build_torch_model(spec, config.dtype, init_state, device=device)
        if ctx.world_size > 1:
            self.module = dist_utils.prepare_batchnorm(self.module, ctx)
        self.model = dist_utils.wrap_model(self.module, ctx) if ctx.world_size > 1 else self.module
        # --compile: normalization, forward and loss become one compiled graph (fused kernels)
        self.step_loss = torch.compile(self._forward_loss) if config.compile else self._forward_loss
        cls_name, kwargs = optimizer_kwargs(config)
        if device.type == "cuda" and cls_name in ("SGD", "Adam", "AdamW"):
            kwargs["fused"] = True  # one kernel per step for all parameters; no host sync
        self.optimizer = getattr(torch.optim, cls_name)(self.module.parameters(), **kwargs)
        self.amp_dtype = None
        self.scaler = None
        if config.amp:
            bf16 = device.type == "cpu" or torch.cuda.is_bf16_supported()
            self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
            if not bf16:
                self.scaler = torch.amp.GradScaler("cuda")
        # on CUDA by default: the uint8 set is uploaded once, batches are cut and normalized there
        self.resident = device.type == "cuda" if config.resident_data is None else bool(config.resident_data)
        if self.resident:
            self.images = _upload_uint8(data.images, device)
            self.labels = torch.from_numpy(np.asarray(data.labels)).to(device=device, dtype=self.dtype)
        else:
            from nnlab.dogcat.cache import BatchReader

            # positional reads from a memory-mapped cache: its pages stay out of the process's RSS
            self.reader, self.labels_np = BatchReader(data.images), np.asarray(data.labels)
        self.sums = torch.zeros(2, dtype=torch.float64, device=device)  # Σ loss, Σ correct (this process)
        self.count = 0  # images in the epoch's global batches so far: known on the host, no sync
        self._val_idx_cache: tuple[int, torch.Tensor] | None = None

    # batches
    def set_epoch_order(self, order: np.ndarray) -> None:
        self.order = torch.from_numpy(order).to(self.device) if self.resident else order

    def _gather(self, idx: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images and float labels of ``idx`` (on the device when the data is resident)."""
        if self.resident:
            return self.images.index_select(0, idx), self.labels.index_select(0, idx)
        # on the CPU the reused buffer is consumed by normalization before the next read;
        # a copy to another device gets an array of its own
        out = None if self.device.type == "cpu" else np.empty((len(idx), *self.reader.row_shape), np.uint8)
        x_u8 = torch.from_numpy(self.reader.read(idx, out=out))
        y = torch.from_numpy(self.labels_np[idx].astype(NUMPY_DTYPES[self.config.dtype]))
        if self.device.type != "cpu":
            x_u8, y = x_u8.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        return x_u8, y

    def _forward_loss(self, x_u8: torch.Tensor, y: torch.Tensor, n_global: int):
        """Normalize, forward, loss: (loss to differentiate, Σ per-image loss, correct count)."""
        x = self.normalization.apply_torch(x_u8, self.dtype)
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

    def train_step(self, start: int, end: int) -> torch.Tensor:
        """One optimizer step on batch ``order[start:end]`` (this process's shard of it); no host sync."""
        idx = self.order[start:end]
        n_global = end - start
        if self.ctx.world_size > 1:
            idx = dist_utils.shard(idx, self.ctx)
        x_u8, y = self._gather(idx)
        self.module.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss, loss_sum, correct = self.step_loss(x_u8, y, n_global)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
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
        bs = self.config.eval_batch_size
        for s in range(0, len(idx), bs):
            x_u8, _ = self._gather(idx_t[s:s + bs] if self.resident else idx[s:s + bs])
            x = self.normalization.apply_torch(x_u8, self.dtype)
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
        state = {"model": self.state_dict(), "optimizer": self.optimizer.state_dict()}
        if self.scaler is not None:
            state["grad_scaler"] = self.scaler.state_dict()
        return state

    def load_checkpoint_state(self, state: Mapping) -> None:
        self.module.load_state_dict({k: v.to(self.device) for k, v in state["model"].items()})
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and "grad_scaler" in state:
            self.scaler.load_state_dict(state["grad_scaler"])


class ScratchTwin:
    """The NumPy model and optimizer, fed from the uint8 images on the host."""

    name = "scratch"

    def __init__(self, spec: ModelSpec, config: TrainConfig, init_state: Mapping, data: Any,
                 normalization: Any) -> None:
        import scratch.optim as scratch_optim
        from scratch.losses import BCEWithLogitsLoss

        self.config = config
        self.np_dtype = NUMPY_DTYPES[config.dtype]
        self.normalization = normalization
        self.module = build_scratch_model(spec, config.dtype, init_state)
        cls_name, kwargs = optimizer_kwargs(config)
        self.optimizer = getattr(scratch_optim, cls_name)(list(self.module.parameters()), **kwargs)
        self.loss_fn = BCEWithLogitsLoss()
        from nnlab.dogcat.cache import BatchReader

        # positional reads from a memory-mapped cache: its pages stay out of the process's RSS
        self.reader, self.labels = BatchReader(data.images), np.asarray(data.labels)
        self.sums = [0.0, 0.0, 0.0]

    def set_epoch_order(self, order: np.ndarray) -> None:
        self.order = order

    def _gather(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self.normalization.apply_numpy(self.reader.read(idx), self.np_dtype)
        return x, self.labels[idx].astype(self.np_dtype)

    def train_step(self, start: int, end: int) -> float:
        x, y = self._gather(self.order[start:end])
        self.module.train()
        self.optimizer.zero_grad()
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported as a NaN loss below
            logits = self.module.forward(x)
        if not np.isfinite(logits).all():
            self.sums[0] += float("nan")
            return float("nan")
        loss = float(self.loss_fn.forward(logits, y))
        self.module.backward(self.loss_fn.backward())  # dℓ/dz = (σ(z) − y)/N
        self.optimizer.step()
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
        out = [self.module.forward(self._gather(idx[s:s + self.config.eval_batch_size])[0])
               for s in range(0, len(idx), self.config.eval_batch_size)]
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
        return {"model": self.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_checkpoint_state(self, state: Mapping) -> None:
        self.module.load_state_dict(to_numpy_state(state["model"]))
        self.optimizer.load_state_dict(ckpt_io.to_numpy_tree(state["optimizer"]))


def run_epoch_steps(twin: Any, order: np.ndarray, batch_size: int) -> int:
    """Every optimizer step of one epoch on one twin, and nothing else (no eval, no logging, no sync).

    For timing an epoch: on CUDA follow it with ``torch.cuda.synchronize()``.
    Returns the number of steps taken.
    """
    twin.set_epoch_order(order)
    steps = -(-len(order) // batch_size)
    for s in range(steps):
        twin.train_step(s * batch_size, min((s + 1) * batch_size, len(order)))
    return steps


def _upload_uint8(images: np.ndarray, device: torch.device, chunk: int = 2048) -> torch.Tensor:
    """Copy a (possibly memory-mapped) uint8 array to ``device`` in chunks, never all in host RAM
    (a memory-mapped cache is read with positional reads, so its pages are not mapped in either)."""
    from nnlab.dogcat.cache import BatchReader

    reader = BatchReader(images)
    out = torch.empty(tuple(images.shape), dtype=torch.uint8, device=device)
    for s in range(0, len(images), chunk):
        e = min(s + chunk, len(images))
        out[s:e].copy_(torch.from_numpy(reader.read(np.arange(s, e))))  # synchronous: the buffer is reused
    reader.close()
    return out


# -- evaluation --------------------------------------------------------------


def binary_metrics(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Mean BCE from logits, accuracy at P = 0.5, and the confusion counts."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    pred = z > 0
    truth = y > 0.5
    n = max(len(z), 1)
    with np.errstate(all="ignore"):
        loss = float(losses.mean()) if len(z) else float("nan")
    return dict(
        loss=loss,
        accuracy=float(np.count_nonzero(pred == truth)) / n,
        confusion=np.array([[np.sum(~truth & ~pred), np.sum(~truth & pred)],
                            [np.sum(truth & ~pred), np.sum(truth & pred)]], dtype=np.int64),
    )


def format_confusion(cm: np.ndarray) -> str:
    """2x2 table, rows = true class, columns = predicted class."""
    cm = np.asarray(cm)
    w = max(6, len(str(int(cm.max()))) + 2)
    lines = ["confusion matrix on validation (rows: true class, columns: predicted):",
             " " * 10 + "cat".rjust(w) + "dog".rjust(w)]
    for name, row in zip(("cat", "dog"), cm):
        lines.append(f"  true {name}" + "".join(str(int(v)).rjust(w) for v in row))
    return "\n".join(lines)


# -- the loop ----------------------------------------------------------------


def resolve_device(choice: str, ctx: dist_utils.DistContext | None = None) -> torch.device:
    """``auto`` → CUDA when available, else CPU; under torchrun, this process's GPU."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was requested but torch sees no CUDA device; use --device cpu or auto")
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    local = ctx.local_rank if ctx is not None else 0
    return torch.device("cuda", local)


def train(
    config: TrainConfig,
    data: Any = None,
    normalization: Any = None,
    resume: str | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train as ``config`` says and return the history, final weights and confusion matrix.

    ``data``: anything with uint8 ``images`` (N, 3, H, W) and 0/1 ``labels``
    (``load_dogcat``'s result, :class:`ArrayData`); ``None`` loads what
    ``config.data`` names. ``resume``: a checkpoint to continue from; its
    saved config is used, except ``epochs``, ``max_steps``, ``progress``,
    ``device`` and ``logdir`` taken from ``config``.
    """
    t_start = time.perf_counter()
    ckpt = None
    if resume is not None:
        ckpt = ckpt_io.load_checkpoint(resume)
        saved = TrainConfig.from_dict(ckpt["config"])
        for name in ("epochs", "max_steps", "progress", "device"):
            setattr(saved, name, getattr(config, name))
        saved.logdir = config.logdir or str(Path(resume).parent if Path(resume).is_file() else resume)
        config = saved
    config = TrainConfig.from_dict(config.to_dict()).validate()
    ctx = dist_utils.init_from_env(config.device)
    if ctx.world_size > 1 and config.impl != "torch":
        raise ValueError("distributed training runs the torch twin only; use --impl torch under torchrun")
    device = resolve_device(config.device, ctx)
    say = _printer(log, ctx)

    if data is None:
        with dist_utils.main_process_first(ctx):
            data, data_description = load_training_data(config, say)
    else:
        data_description = getattr(data, "description", type(data).__name__)
    if normalization is None:
        normalization = ckpt_normalization(ckpt) or getattr(data, "normalization", None) or default_normalization()
    images = data.images
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"data.images: expected uint8 (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
    labels = np.asarray(data.labels)
    train_idx, val_idx = split_indices(labels, config.val_fraction, config.seed)
    spec = config.model_spec(images.shape[1:])
    init_state = initial_state_dict(spec, config.seed, config.dtype)

    twins: list = []
    if config.impl in ("torch", "both"):
        twins.append(TorchTwin(spec, config, init_state, data, normalization, device, ctx))
    if config.impl in ("scratch", "both"):
        twins.append(ScratchTwin(spec, config, init_state, data, normalization))
    primary = twins[0]

    drop_last = config.batchnorm and len(train_idx) % config.batch_size == 1  # BN needs 2+ samples
    steps_per_epoch = len(train_idx) // config.batch_size if drop_last else -(-len(train_idx) // config.batch_size)
    start_epoch, start_step, global_step, history, parity = 0, 0, 0, [], []
    if ckpt is not None:
        for twin in twins:
            twin.load_checkpoint_state(ckpt["twins"][twin.name])
            twin.set_sums(ckpt["epoch_sums"][twin.name])
        ckpt_io.restore_rng_states(ckpt["rng"])
        start_epoch, start_step = int(ckpt["epoch"]), int(ckpt["step_in_epoch"])
        global_step = int(ckpt["global_step"])
        history, parity = list(ckpt.get("history", [])), list(ckpt.get("parity", []))
        say(f"resumed from {resume}: epoch {start_epoch + 1}, step {start_step} of {steps_per_epoch}, "
            f"global step {global_step}")
        if start_epoch >= config.epochs:
            say(f"nothing to train: the checkpoint has finished {start_epoch} epochs and --epochs is "
                f"{config.epochs}; pass a larger --epochs to continue")

    logdir = config.logdir or default_logdir(config)
    config.logdir = logdir
    ckpt_path = Path(logdir) / ckpt_io.CHECKPOINT_NAME
    logger = TensorBoardLogger(logdir if (ctx.is_main and config.tensorboard) else None, config.hist_every)
    last_good = {"path": None, "where": "none written yet"}
    if ckpt is not None:
        last_good = {"path": str(resume), "where": f"epoch {start_epoch + 1}, step {start_step}"}
    if ctx.is_main:
        impl = "torch and scratch in lockstep" if len(twins) == 2 else twins[0].name
        say(f"data: {data_description}; {len(train_idx)} train / {len(val_idx)} validation images "
            f"of {tuple(images.shape[1:])}")
        if ctx.world_size > 1:
            say(f"distributed: {ctx.world_size} processes ({ctx.backend}), each taking 1/{ctx.world_size} "
                "of every global batch")
        say(f"model: {spec.describe()} ({impl}) on {device}, {config.dtype}, "
            f"{config.optimizer} lr {config.lr:g}, batch {config.batch_size}; logs and checkpoint in {logdir}")

    def save(epoch: int, step_in_epoch: int, sums: Mapping[str, Sequence[float]]) -> None:
        for twin in twins:
            if not twin.parameters_finite():
                raise _diverged(f"parameters of the {twin.name} twin are not finite at global step "
                                f"{global_step}", config, last_good)
        if not ctx.is_main:
            return
        payload = {
            "format": ckpt_io.FORMAT,
            "model_spec": spec.to_dict(),
            "model": primary.state_dict(),
            "twins": {t.name: t.checkpoint_state() for t in twins},
            "epoch": epoch, "step_in_epoch": step_in_epoch, "global_step": global_step,
            "epoch_sums": {k: list(v) for k, v in sums.items()},
            "history": history, "parity": parity,
            "rng": ckpt_io.rng_states(),
            "normalization": normalization.to_dict(),
            "config": config.to_dict(),
        }
        ckpt_io.save_checkpoint(ckpt_path, payload)
        last_good.update(path=str(ckpt_path), where=f"epoch {epoch + 1}, step {step_in_epoch}"
                         if step_in_epoch else f"end of epoch {epoch}")

    sync_every = 1 if (device.type == "cpu" and ctx.world_size == 1) else max(1, config.log_every)
    checked_step = global_step
    last_logged = {t.name: (0.0, 0.0) for t in twins}
    finished = True
    confusion = None
    bar_cls = _tqdm()
    try:
        for epoch in range(start_epoch, config.epochs):
            t_epoch = time.perf_counter()
            order = epoch_order(train_idx, config.seed, epoch)
            for twin in twins:
                twin.set_epoch_order(order)
            first = start_step if epoch == start_epoch else 0
            if first == 0:
                for twin in twins:
                    twin.set_sums([0.0, 0.0, 0.0])
                last_logged = {t.name: (0.0, 0.0) for t in twins}
            bar = bar_cls(total=steps_per_epoch, initial=first, desc=f"epoch {epoch + 1}/{config.epochs}",
                          disable=not (config.progress and ctx.is_main), leave=False, unit="batch")
            stop_now = False
            for s in range(first, steps_per_epoch):
                start, end = s * config.batch_size, min((s + 1) * config.batch_size, len(order))
                for twin in twins:
                    twin.train_step(start, end)
                global_step += 1
                bar.update(1)
                last_step = s + 1 == steps_per_epoch
                if global_step % sync_every == 0 or last_step:
                    sums = {t.name: t.read_sums() for t in twins}
                    for name, (loss_sum, _, n) in sums.items():
                        if not math.isfinite(loss_sum):
                            where = (f"global step {global_step}" if global_step - checked_step == 1 else
                                     f"global steps {checked_step + 1}–{global_step}")
                            raise _diverged(f"the {name} twin's training loss became {loss_sum} "
                                            f"(epoch {epoch + 1}, {where})", config, last_good)
                    checked_step = global_step
                    loss_sum, _, n = sums[primary.name]
                    prev_loss, prev_n = last_logged[primary.name]
                    if n > prev_n and (global_step % max(1, config.log_every) == 0 or last_step):
                        recent = (loss_sum - prev_loss) / (n - prev_n)
                        logger.scalars({"loss/train_recent": recent}, global_step)
                        bar.set_postfix(loss=f"{loss_sum / n:.4f}")
                        last_logged[primary.name] = (loss_sum, n)
                if logger.wants_histograms(global_step):
                    logger.histograms(primary.named_parameters(), global_step, "weights")
                    logger.histograms(primary.named_grads(), global_step, "grads")
                reached_max = config.max_steps is not None and global_step >= config.max_steps
                if not last_step and (reached_max or (config.checkpoint_every and
                                                      global_step % config.checkpoint_every == 0)):
                    save(epoch, s + 1, {t.name: t.read_sums() for t in twins})
                if reached_max:
                    stop_now = True
                    if not last_step:
                        break
            bar.close()
            if stop_now and s + 1 < steps_per_epoch:
                finished = False
                say(f"stopped after {global_step} steps (max_steps); checkpoint: {last_good['path']}")
                break

            # end of epoch: metrics, logs, parity, checkpoint
            record = {"epoch": epoch + 1, "global_step": global_step}
            for twin in twins:
                loss_sum, correct, n = twin.read_sums()
                logits = twin.logits(val_idx)
                val = binary_metrics(logits, labels[val_idx])
                prefix = "" if twin is primary else f"{twin.name}_"
                record.update({f"{prefix}train_loss": loss_sum / max(n, 1),
                               f"{prefix}train_accuracy": correct / max(n, 1),
                               f"{prefix}val_loss": val["loss"], f"{prefix}val_accuracy": val["accuracy"]})
                if twin is primary:
                    confusion, primary_val_logits = val["confusion"], logits
            if len(twins) == 2:
                diff, where = max_parameter_difference(twins[0].state_dict(), twins[1].state_dict())
                record["parity_max_abs_diff"], record["parity_worst_tensor"] = diff, where
                parity.append({"epoch": epoch + 1, "max_abs_diff": diff, "tensor": where})
            record["seconds"] = time.perf_counter() - t_epoch
            history.append(record)
            _log_epoch(logger, record, primary, spec, images, labels, val_idx, primary_val_logits, config)
            say(_epoch_line(record, config.epochs))
            save(epoch + 1, 0, {t.name: [0.0, 0.0, 0.0] for t in twins})
            if stop_now:
                finished = epoch + 1 >= config.epochs
                if not finished:
                    say(f"stopped after {global_step} steps (max_steps); checkpoint: {last_good['path']}")
                break
        if finished and history and ctx.is_main:
            if confusion is not None:
                say(format_confusion(confusion))
            last = history[-1]
            logger.hparams(_hparams(config, spec), {
                "val_accuracy": last["val_accuracy"], "val_loss": last["val_loss"],
                "train_accuracy": last["train_accuracy"], "train_loss": last["train_loss"]})
    finally:
        logger.close()
    dist_utils.barrier(ctx)
    return TrainResult(
        history=history,
        final_states={t.name: to_numpy_state(t.state_dict()) for t in twins},
        confusion=confusion, parity=parity, logdir=logdir,
        checkpoint_path=last_good["path"], global_step=global_step, finished=finished,
        seconds=time.perf_counter() - t_start, data_description=data_description,
    )


def ckpt_normalization(ckpt: Mapping | None):
    if ckpt is None or "normalization" not in ckpt:
        return None
    from nnlab.dogcat.data import Normalization

    return Normalization.from_dict(ckpt["normalization"])


def _diverged(what: str, config: TrainConfig, last_good: Mapping) -> TrainingDiverged:
    good = (f"the last good checkpoint is {last_good['path']} ({last_good['where']})"
            if last_good["path"] else "no checkpoint had been written yet")
    return TrainingDiverged(
        f"training stopped: {what}; {good}. The step size is probably too large for this model: "
        f"try a smaller --lr (now {config.lr:g}) or --optimizer adam."
    )


def _log_epoch(logger: TensorBoardLogger, record: Mapping, primary: Any, spec: ModelSpec,
               images: np.ndarray, labels: np.ndarray, val_idx: np.ndarray,
               val_logits: np.ndarray, config: TrainConfig) -> None:
    if not logger.enabled:
        return
    step = int(record["global_step"])
    logger.scalars({
        "loss/train": record["train_loss"], "loss/val": record["val_loss"],
        "accuracy/train": record["train_accuracy"], "accuracy/val": record["val_accuracy"],
        "lr": primary.lr(),
    }, step)
    if "parity_max_abs_diff" in record:
        logger.scalars({"parity/max_abs_param_diff": record["parity_max_abs_diff"]}, step)
    if spec.kind == "logistic":
        logger.logistic_weights(dict(primary.named_parameters())["classifier.weight"], spec.input_shape, step)
    probs = sigmoid(np.asarray(val_logits, dtype=np.float64))
    k = min(config.val_examples, len(val_idx))
    if k:  # the first validation images of each class, half and half
        val_labels = labels[val_idx]
        pos = np.concatenate([np.flatnonzero(val_labels == 0)[:k // 2], np.flatnonzero(val_labels == 1)])[:k]
        pos = np.sort(pos)
        from nnlab.dogcat.cache import BatchReader

        examples = BatchReader(images).read(val_idx[pos], out=np.empty((len(pos), *images.shape[1:]), np.uint8))
        logger.validation_examples(examples, probs[pos], val_labels[pos], step)
    logger.pr_curve(labels[val_idx], probs, step)
    logger.flush()


def _hparams(config: TrainConfig, spec: ModelSpec) -> dict:
    d = {k: v for k, v in config.to_dict().items()
         if k in ("model", "activation", "batchnorm", "impl", "dtype", "optimizer", "lr", "momentum",
                  "weight_decay", "batch_size", "epochs", "seed", "amp", "image_size")}
    d["hidden"] = "-".join(str(h) for h in spec.hidden) or "none"
    d["weight_decay"] = float(d["weight_decay"] or 0.0)
    return d


def _epoch_line(r: Mapping, epochs: int) -> str:
    line = (f"epoch {r['epoch']}/{epochs}: train loss {r['train_loss']:.4f} acc {r['train_accuracy']:.3f} | "
            f"val loss {r['val_loss']:.4f} acc {r['val_accuracy']:.3f} | {r['seconds']:.1f}s")
    if "parity_max_abs_diff" in r:
        line += (f" | scratch val acc {r['scratch_val_accuracy']:.3f}; largest torch−scratch "
                 f"parameter difference {r['parity_max_abs_diff']:.2e} ({r['parity_worst_tensor']})")
    return line


def _printer(log: Callable[[str], None] | None, ctx: dist_utils.DistContext) -> Callable[[str], None]:
    if not ctx.is_main:
        return lambda msg: None
    if log is not None:
        return log
    try:
        from tqdm import tqdm

        return tqdm.write
    except ImportError:  # pragma: no cover
        return print


def _tqdm():
    try:
        from tqdm import tqdm

        return tqdm
    except ImportError:  # pragma: no cover
        class _NoBar:
            def __init__(self, *a, **k): pass
            def update(self, n=1): pass
            def set_postfix(self, **k): pass
            def close(self): pass
        return _NoBar


__all__ = [
    "TrainConfig", "TrainResult", "TrainingDiverged", "ArrayData", "TorchTwin", "ScratchTwin",
    "train", "run_epoch_steps", "epoch_order", "binary_metrics", "format_confusion", "default_logdir",
    "optimizer_kwargs", "resolve_device", "IMPLS", "DEVICES", "OPTIMIZERS", "DTYPES",
]
