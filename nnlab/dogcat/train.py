"""Training loop for the dog/cat classifier: torch, scratch, or both in lockstep.

The model outputs a logit z; P(dog) = σ(z). Training minimizes the mean binary
cross-entropy, the negative Bernoulli log-likelihood, computed from logits
(:mod:`nnlab.dogcat.twins` states the stable form and its gradient σ(z) − y).

One loop drives one or two *twins* (:class:`~nnlab.dogcat.twins.TorchTwin`,
:class:`~nnlab.dogcat.twins.ScratchTwin`): each epoch has a seeded permutation of
the training indices (a pure function of ``seed`` and the epoch number, so a
resumed run replays it exactly), and every step hands the same slice of it to each
twin. With ``impl="both"`` the twins start from the same weights and see the same
batches, and after each epoch the largest parameter difference between them is
reported: the parity proof on real data.

The loop reads top to bottom: setup (settings, data, twins, logs), resume, the
steps of an epoch, the end of an epoch (metrics, logs, parity, checkpoint). It never
calls ``.item()`` per step: losses and correct counts accumulate in the twins and
are read every ``log_every`` steps (once per step on CPU, where reading costs
nothing), which is also where a NaN/inf loss is detected. A diverged run stops with
:class:`TrainingDiverged`; checkpoints are only written after their parameters were
checked finite, so the last one on disk is always good.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from nnlab.dogcat import augment
from nnlab.dogcat import checkpoint as ckpt_io
from nnlab.dogcat import distributed as dist_utils
from nnlab.dogcat.cache import BatchReader
from nnlab.dogcat.config import TrainConfig, default_logdir, resumed_config
from nnlab.dogcat.data import DEFAULT_NORMALIZATION, Normalization, load_data, stratified_split
from nnlab.dogcat.feeder import BatchFeeder
from nnlab.dogcat.metrics import binary_metrics, epoch_line, format_confusion
from nnlab.dogcat.models import NUMPY_DTYPES, initial_state_dict, max_parameter_difference, to_numpy_state
from nnlab.dogcat.preflight import check_run_folder, check_same_data, nothing_left
from nnlab.dogcat.run_folder import RunFolder, summary_of
from nnlab.dogcat.tensorboard_log import TensorBoardLogger, default_hist_every
from nnlab.dogcat.twins import ScratchTwin, TorchTwin
from nnlab.runtime import resolve_device, show_progress
from scratch.activations import sigmoid


#: Mixed into the seed of the dropout generators, so the masks never repeat another stream of the run.
DROPOUT_STREAM = 0xD50


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message says where and which checkpoint is good."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the run; ``checkpoint`` is the last one written (None: nothing to resume)."""

    def __init__(self, where: str, checkpoint: str | None) -> None:
        super().__init__(where)
        self.where, self.checkpoint = where, checkpoint


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


def epoch_order(train_idx: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The epoch's shuffled training indices: a pure function of (seed, epoch)."""
    return np.random.default_rng([int(seed), int(epoch), 0x5EED]).permutation(train_idx)


def train(
    config: TrainConfig,
    data: Any = None,
    normalization: Any = None,
    resume: str | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train as ``config`` says and return the history, final weights and confusion matrix.

    ``data``: anything with uint8 ``images`` (N, 3, H, W) and 0/1 ``labels``
    (``load_dogcat``'s result, :class:`~nnlab.dogcat.data.ArrayData`); ``None`` loads
    what ``config.data`` names. ``resume``: a checkpoint to continue from; its saved
    config is used, except the settings of :data:`~nnlab.dogcat.config.RESUME_OVERRIDES`
    that ``config.given`` names (:func:`~nnlab.dogcat.config.resumed_config`). A checkpoint
    with nothing left to train returns at once and writes nothing. Ctrl-C (or SIGTERM made
    a KeyboardInterrupt) raises :class:`TrainingInterrupted`, naming the checkpoint to resume.
    """
    start = time.perf_counter()
    ckpt, run = None, None
    try:
        if resume is not None:
            ckpt = ckpt_io.load_checkpoint(resume)
            saved = dict(ckpt["config"], data=ckpt["config"].get("data") or ckpt.get("data", {}).get("root"))
            config = resumed_config(saved, config, resume)
            settled = config.validated()
            why = nothing_left(ckpt, settled.epochs, settled.max_steps)
            if why is not None:  # a finished run: say so and write nothing, not even an event file
                _printer(log, dist_utils.DistContext(rank=int(os.environ.get("RANK", "0"))))(
                    f"nothing to train in {config.logdir}: {why}")
                return _result_of_checkpoint(ckpt, config, str(resume), time.perf_counter() - start)
        run = _Run(config, data, normalization, resume, ckpt, log)
    except KeyboardInterrupt as exc:
        raise TrainingInterrupted("before training started", str(resume) if resume else None) from exc
    try:
        for epoch in range(run.start_epoch, run.config.epochs):
            t_epoch = time.perf_counter()
            complete, reached_max = run.train_epoch(epoch)
            if not complete:
                run.stop_early()
                break
            run.end_epoch(epoch, t_epoch)
            if reached_max:
                if epoch + 1 < run.config.epochs:
                    run.stop_early()
                break
        run.finish()
    except KeyboardInterrupt as exc:
        raise run.interrupted() from exc
    finally:
        run.logger.close()
        run.feeder.close()
    dist_utils.barrier(run.ctx)
    return run.result(time.perf_counter() - start)


class _Run:
    """The state of one training run between its steps: settings, data, twins, logs and progress."""

    # -- setup ---------------------------------------------------------------------

    def __init__(self, config: TrainConfig, data: Any, normalization: Any, resume: str | None,
                 ckpt: Mapping | None, log: Callable[[str], None] | None) -> None:
        config = config.validated()
        self.ctx = ctx = dist_utils.init_from_env(config.device)
        if ctx.world_size > 1 and config.impl != "torch":
            raise ValueError("distributed training runs the torch twin only; use --impl torch under torchrun")
        self.device = resolve_device(config.device, ctx.local_rank)
        self.say = _printer(log, ctx)
        self.progress = show_progress(config.progress) and ctx.is_main  # bars on a terminal only
        config = replace(config, logdir=config.logdir or default_logdir(config))
        if ctx.is_main:  # before the data: a bad run folder fails in a second, not after an epoch
            check_run_folder(config.logdir, resuming=ckpt is not None, overwrite=config.overwrite)

        if data is None:
            with dist_utils.main_process_first(ctx):
                data, self.data_description = load_data(config.data, config.image_size, config.cache_dir,
                                                        config.workers, self.progress, self.say)
        else:
            self.data_description = getattr(data, "description", type(data).__name__)
        if normalization is None:
            saved = ckpt.get("normalization") if ckpt is not None else None
            normalization = (Normalization.from_dict(saved) if saved is not None else
                             getattr(data, "normalization", None) or DEFAULT_NORMALIZATION)
        self.normalization = normalization
        self.images, self.labels = data.images, np.asarray(data.labels)
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"data.images: expected uint8 (N, 3, H, W), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        self.data_identity = {"root": str(getattr(data, "root", "") or ""), "images": len(self.labels),
                              "fingerprint": getattr(data, "fingerprint", None)}
        if ckpt is not None:
            check_same_data(ckpt.get("data"), self.data_identity)
        self.train_idx, self.val_idx = stratified_split(self.labels, config.val_fraction, config.seed)
        if len(self.train_idx) == 0:
            raise ValueError(f"no training images: --val-fraction {config.val_fraction:g} puts all "
                             f"{len(self.labels)} images into the validation split; pass a smaller "
                             "--val-fraction or more photos")
        self.spec = config.model_spec(self.images.shape[1:])
        self.reader = BatchReader(self.images)  # one reader, shared by both twins and the logs
        drop_last = self.spec.batchnorm and len(self.train_idx) % config.batch_size == 1  # BN needs 2+ samples
        n, b = len(self.train_idx), config.batch_size
        self.steps_per_epoch = n // b if drop_last else -(-n // b)
        self.twins = self._build_twins(config)
        self.primary = self.twins[0]
        self.sync_every = 1 if (self.device.type == "cpu" and ctx.world_size == 1) else max(1, config.log_every)
        self.start_epoch, self.start_step, self.global_step = 0, 0, 0
        self.history: list = []
        self.parity: list = []
        self.last_good = {"path": None, "where": "none written yet"}
        if ckpt is not None:
            self._resume(ckpt, resume, config)

        self.config = config
        self.ckpt_path = Path(config.logdir) / ckpt_io.CHECKPOINT_NAME
        self.logger = TensorBoardLogger(config.logdir if (ctx.is_main and config.tensorboard) else None,
                                        default_hist_every(self.steps_per_epoch) if config.hist_every is None
                                        else config.hist_every)
        self.checked_step = self.global_step
        self.last_logged = (0.0, 0.0)  # the primary twin's (Σ loss, n) when loss/train_recent was last written
        self.finished = True
        self.confusion = None
        self.resumed_images = self.primary.read_sums()[2] if self.start_step else 0.0  # of the unfinished epoch
        self.run_folder = RunFolder(config.logdir, enabled=ctx.is_main, title=f"{config.describe()}: "
                                    f"{self.data_description}")
        self.run_folder.start(config.to_dict(), self._resolved(), resumed=ckpt is not None)
        self._announce()

    def _resolved(self) -> dict:
        """What the settings became in this run, for config.json."""
        name, kwargs = self.config.optimizer_kwargs()
        return {"device": str(self.device), "world_size": self.ctx.world_size, "model": self.spec.to_dict(),
                "model_description": self.spec.describe(), "optimizer": dict(kwargs, name=name),
                "data": self.data_description, "train_images": len(self.train_idx),
                "val_images": len(self.val_idx), "steps_per_epoch": self.steps_per_epoch,
                "hist_every": self.logger.hist_every}

    def _build_twins(self, config: TrainConfig) -> list:
        """The twins ``config.impl`` asks for, from one set of starting weights, each with its own settings."""
        init_state = initial_state_dict(self.spec, config.seed, config.dtype)
        # one feeder: the twins on the CPU train on the same float batches, each read and normalized once
        self.feeder = BatchFeeder(self.reader, self.normalization, NUMPY_DTYPES[config.dtype])
        common = dict(dtype=config.dtype, optimizer=config.optimizer_kwargs(), eval_batch_size=config.eval_batch_size,
                      schedule=config.schedule_plan(self.steps_per_epoch), clip_grad=config.clip_grad,
                      dropout_seed=[config.seed, DROPOUT_STREAM, self.ctx.rank],  # under DDP, masks per process
                      feeder=self.feeder)
        twins: list = []
        if config.impl in ("torch", "both"):
            twins.append(TorchTwin(self.spec, init_state, self.reader, self.labels, self.normalization,
                                   device=self.device, ctx=self.ctx, amp=config.amp, compile=config.compile,
                                   resident=config.resident_data, **common))
        if config.impl in ("scratch", "both"):
            twins.append(ScratchTwin(self.spec, init_state, self.reader, self.labels, self.normalization, **common))
        return twins

    def _resume(self, ckpt: Mapping, resume: str, config: TrainConfig) -> None:
        """Weights, optimizer states, epoch sums, generators and progress as the checkpoint left them."""
        planned = int(ckpt["config"].get("epochs") or config.epochs)
        if config.scheduler in ("cosine", "onecycle") and config.epochs > planned:
            raise ValueError(f"--epochs {config.epochs} would run past the end of the run's {config.scheduler} "
                             f"schedule, laid out over its {planned} epochs; resume with --epochs {planned} or less")
        for twin in self.twins:
            twin.load_checkpoint_state(ckpt["twins"][twin.name])
            twin.set_sums(ckpt["epoch_sums"][twin.name])
        ckpt_io.restore_rng_states(ckpt["rng"])
        self.start_epoch, self.start_step = int(ckpt["epoch"]), int(ckpt["step_in_epoch"])
        self.global_step = int(ckpt["global_step"])
        self.history, self.parity = list(ckpt.get("history", [])), list(ckpt.get("parity", []))
        path = Path(resume) / ckpt_io.CHECKPOINT_NAME if Path(resume).is_dir() else Path(resume)
        self.last_good = {"path": str(path), "where": f"epoch {self.start_epoch + 1}, step {self.start_step}"}
        self.say(f"resumed from {resume}: epoch {self.start_epoch + 1}, step {self.start_step} of "
                 f"{self.steps_per_epoch}, global step {self.global_step}")

    def _announce(self) -> None:
        if not self.ctx.is_main:
            return
        c, ctx = self.config, self.ctx
        impl = "torch and scratch in lockstep" if len(self.twins) == 2 else self.primary.name
        self.say(f"data: {self.data_description}; {len(self.train_idx)} train / {len(self.val_idx)} validation "
                 f"images of {tuple(self.images.shape[1:])}")
        if ctx.world_size > 1:
            self.say(f"distributed: {ctx.world_size} processes ({ctx.backend}), each taking 1/{ctx.world_size} "
                     "of every global batch")
        self.say(f"model: {self.spec.describe()} ({impl}) on {self.device}, {c.dtype}, {c.optimizer} lr "
                 f"{c.lr:g}, batch {c.batch_size}; logs and checkpoint in {c.logdir}")

    # -- the steps of an epoch -----------------------------------------------------------

    def train_epoch(self, epoch: int) -> tuple[bool, bool]:
        """The epoch's optimizer steps: (whether it ran to its last step, whether ``max_steps`` was reached)."""
        c, twins = self.config, self.twins
        order = epoch_order(self.train_idx, c.seed, epoch)
        for twin in twins:
            twin.set_epoch_order(order)
        first = self.start_step if epoch == self.start_epoch else 0
        if first == 0:
            for twin in twins:
                twin.set_sums([0.0, 0.0, 0.0])
            self.last_logged = (0.0, 0.0)
        bar = tqdm(total=self.steps_per_epoch, initial=first, desc=f"epoch {epoch + 1}/{c.epochs}",
                   disable=not self.progress, leave=False, unit="batch")
        for s in range(first, self.steps_per_epoch):
            start, end = s * c.batch_size, min((s + 1) * c.batch_size, len(order))
            draws = augment.draw(c.seed, epoch, s, end - start, c.shift) if c.augment else None
            self.logger.scalars({"lr": self.primary.lr()}, self.global_step + 1)  # the rate this step takes
            for twin in twins:
                twin.train_step(start, end, draws)
            self.global_step += 1
            bar.update(1)
            last_step = s + 1 == self.steps_per_epoch
            if self.global_step % self.sync_every == 0 or last_step:
                self._check_and_log_loss(epoch, last_step, bar)
            if self.logger.wants_histograms(self.global_step):
                self.logger.histograms(self.primary.named_parameters(), self.global_step, "weights")
                self.logger.histograms(self.primary.named_grads(), self.global_step, "grads")
            reached_max = c.max_steps is not None and self.global_step >= c.max_steps
            if not last_step and (reached_max or (c.checkpoint_every and self.global_step % c.checkpoint_every == 0)):
                self.save(epoch, s + 1, {t.name: t.read_sums() for t in twins})
            if reached_max:
                bar.close()
                return last_step, True
        bar.close()
        return True, False

    def _check_and_log_loss(self, epoch: int, last_step: bool, bar: Any) -> None:
        """Read the running sums (one sync): stop on a non-finite loss, else log the recent mean loss."""
        sums = {t.name: t.read_sums() for t in self.twins}
        for name, (loss_sum, _, n) in sums.items():
            if not math.isfinite(loss_sum):
                where = (f"global step {self.global_step}" if self.global_step - self.checked_step == 1 else
                         f"global steps {self.checked_step + 1}–{self.global_step}")
                raise self._diverged(f"the {name} twin's training loss became {loss_sum} (epoch {epoch + 1}, {where})")
        self.checked_step = self.global_step
        loss_sum, _, n = sums[self.primary.name]
        prev_loss, prev_n = self.last_logged
        if n > prev_n and (self.global_step % max(1, self.config.log_every) == 0 or last_step):
            if not (last_step and prev_n == 0):  # an interval of the whole epoch would repeat loss/train
                self.logger.scalars({"loss/train_recent": (loss_sum - prev_loss) / (n - prev_n)}, self.global_step)
            bar.set_postfix(loss=f"{loss_sum / n:.4f}")
            self.last_logged = (loss_sum, n)

    def stop_early(self) -> None:
        self.finished = False
        self.say(f"stopped after {self.global_step} steps (max_steps); checkpoint: {self.last_good['path']}")

    # -- the end of an epoch -------------------------------------------------------------

    def end_epoch(self, epoch: int, t_epoch: float) -> None:
        """Train and validation metrics of every twin, the parameter gap, logs, the line, a checkpoint."""
        record = {"epoch": epoch + 1, "global_step": self.global_step}
        val_labels = self.labels[self.val_idx]
        for twin in self.twins:
            loss_sum, correct, n = twin.read_sums()
            logits = twin.logits(self.val_idx)
            val = binary_metrics(logits, val_labels)
            prefix = "" if twin is self.primary else f"{twin.name}_"
            record.update({f"{prefix}train_loss": loss_sum / max(n, 1),
                           f"{prefix}train_accuracy": correct / max(n, 1),
                           f"{prefix}val_loss": val["loss"], f"{prefix}val_accuracy": val["accuracy"]})
            if twin is self.primary:
                self.confusion = val["confusion"] if len(self.val_idx) else None  # none: "n/a" above
                images = n - (self.resumed_images if epoch == self.start_epoch else 0.0)  # trained by this run
                primary_val_logits = logits
        if len(self.twins) == 2:
            diff, where = max_parameter_difference(self.twins[0].state_dict(), self.twins[1].state_dict())
            record["parity_max_abs_diff"], record["parity_worst_tensor"] = diff, where
            self.parity.append({"epoch": epoch + 1, "max_abs_diff": diff, "tensor": where})
        record["lr"] = self.primary.lr()  # the epoch's last step's rate, before a scheduler moves it
        plateau_metric = record["val_loss"] if math.isfinite(record["val_loss"]) else record["train_loss"]
        for twin in self.twins:  # both twins step ReduceLROnPlateau on the primary twin's number: lockstep
            twin.end_epoch(plateau_metric)
        record["seconds"] = time.perf_counter() - t_epoch
        record["images_per_second"] = images / record["seconds"]
        self.history.append(record)
        self._log_epoch(record, primary_val_logits)
        self.say(epoch_line(record, self.config.epochs))
        self.save(epoch + 1, 0, {t.name: [0.0, 0.0, 0.0] for t in self.twins})
        self.run_folder.epoch_done(self.history, record["seconds"])  # after the checkpoint: rows ⊆ its history

    def _log_epoch(self, record: Mapping, val_logits: np.ndarray) -> None:
        """Scalars, the logistic weights as an image, a few captioned validation images, the PR curve."""
        logger = self.logger
        if not logger.enabled:
            return
        step = int(record["global_step"])
        logger.scalars({
            "loss/train": record["train_loss"], "loss/val": record["val_loss"],
            "accuracy/train": record["train_accuracy"], "accuracy/val": record["val_accuracy"],
        }, step)
        if "parity_max_abs_diff" in record:
            logger.scalars({"parity/max_abs_param_diff": record["parity_max_abs_diff"]}, step)
        if self.spec.kind == "logistic":
            weight = dict(self.primary.named_parameters())["classifier.weight"]
            logger.logistic_weights(weight, self.spec.input_shape, step)
        if self.spec.kind == "cnn":
            logger.conv_filters(dict(self.primary.named_parameters())["features.0.conv.weight"], step)
        probs = sigmoid(np.asarray(val_logits, dtype=np.float64))
        val_labels = self.labels[self.val_idx]
        k = min(self.config.val_examples, len(self.val_idx))
        if k:  # the first validation images of each class, half and half
            pos = np.concatenate([np.flatnonzero(val_labels == 0)[:k // 2], np.flatnonzero(val_labels == 1)])[:k]
            pos = np.sort(pos)
            examples = self.reader.read(self.val_idx[pos], out=np.empty((len(pos), *self.reader.row_shape), np.uint8))
            logger.validation_examples(examples, probs[pos], val_labels[pos], step)
        if len(val_labels):
            logger.pr_curve(val_labels, probs, step)
        logger.flush()

    def save(self, epoch: int, step_in_epoch: int, sums: Mapping[str, Sequence[float]]) -> None:
        """Checkpoint (process 0 writes it) once every twin's parameters are checked finite."""
        for twin in self.twins:
            if not twin.parameters_finite():
                raise self._diverged(f"parameters of the {twin.name} twin are not finite at global step "
                                     f"{self.global_step}")
        if not self.ctx.is_main:
            return
        ckpt_io.save_checkpoint(self.ckpt_path, {
            "format": ckpt_io.FORMAT,
            "model_spec": self.spec.to_dict(),
            "model": self.primary.state_dict(),
            "twins": {t.name: t.checkpoint_state() for t in self.twins},
            "epoch": epoch, "step_in_epoch": step_in_epoch, "global_step": self.global_step,
            "epoch_sums": {k: list(v) for k, v in sums.items()},
            "history": self.history, "parity": self.parity,
            "rng": ckpt_io.rng_states(),
            "normalization": self.normalization.to_dict(),
            "config": self.config.to_dict(),
            "data": self.data_identity,
        })
        self.last_good.update(path=str(self.ckpt_path), where=f"epoch {epoch + 1}, step {step_in_epoch}"
                              if step_in_epoch else f"end of epoch {epoch}")

    def interrupted(self) -> TrainingInterrupted:
        """What to say when Ctrl-C or SIGTERM stops the run: where, and the checkpoint to resume from."""
        path = self.last_good["path"]
        where = f"at global step {self.global_step}"
        if path is None or not Path(path).is_file():
            return TrainingInterrupted(f"{where}, before any checkpoint was written", None)
        return TrainingInterrupted(f"{where}; the last checkpoint is {path} ({self.last_good['where']})", path)

    def _diverged(self, what: str) -> TrainingDiverged:
        good = (f"the last good checkpoint is {self.last_good['path']} ({self.last_good['where']})"
                if self.last_good["path"] else "no checkpoint had been written yet")
        return TrainingDiverged(
            f"training stopped: {what}; {good}. The step size is probably too large for this model: "
            f"try a smaller --lr (now {self.config.lr:g}) or --optimizer adam."
        )

    # -- the end of the run ----------------------------------------------------------------

    def finish(self) -> None:
        """The run folder's summary and curve; the confusion matrix and the hparams beside the final
        metrics, when the run completed."""
        if self.history:
            self.run_folder.finish(self.history, summary_of(
                self.history, finished=self.finished, model=self.spec.describe(), data=self.data_description,
                train_images=len(self.train_idx), val_images=len(self.val_idx), checkpoint=self.last_good["path"],
                confusion=None if self.confusion is None else self.confusion.tolist()))
        if not (self.finished and self.history and self.ctx.is_main):
            return
        if self.confusion is not None:
            self.say(format_confusion(self.confusion))
        last = self.history[-1]
        self.logger.hparams(self.config.hparams(self.spec), {
            "val_accuracy": last["val_accuracy"], "val_loss": last["val_loss"],
            "train_accuracy": last["train_accuracy"], "train_loss": last["train_loss"]})

    def result(self, seconds: float) -> TrainResult:
        return TrainResult(
            history=self.history,
            final_states={t.name: to_numpy_state(t.state_dict()) for t in self.twins},
            confusion=self.confusion, parity=self.parity, logdir=self.config.logdir,
            checkpoint_path=self.last_good["path"], global_step=self.global_step, finished=self.finished,
            seconds=seconds, data_description=self.data_description,
        )


def _result_of_checkpoint(ckpt: Mapping, config: TrainConfig, path: str, seconds: float) -> TrainResult:
    """The result of a run that had nothing left to train: what its checkpoint holds."""
    return TrainResult(
        history=list(ckpt.get("history", [])),
        final_states={name: to_numpy_state(state["model"]) for name, state in ckpt["twins"].items()},
        confusion=None, parity=list(ckpt.get("parity", [])), logdir=config.logdir, checkpoint_path=path,
        global_step=int(ckpt["global_step"]), finished=True, seconds=seconds,
    )


def _printer(log: Callable[[str], None] | None, ctx: dist_utils.DistContext) -> Callable[[str], None]:
    if not ctx.is_main:
        return lambda msg: None
    return log if log is not None else tqdm.write


__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "TrainingInterrupted", "train", "epoch_order"]


if __name__ == "__main__":  # python -m nnlab.dogcat.train: say where the program is instead of nothing
    raise SystemExit("nnlab.dogcat.train is the training loop, not a program: run nn-twins-train, "
                     "python -m nnlab.cli.train or python scripts/train_dogcat.py (--help)")
