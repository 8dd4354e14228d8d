"""Every setting of a dog/cat training run, in one dataclass that is also the command line.

Each field carries its help text and command-line form in its metadata, so the flags
of ``scripts/train_dogcat.py`` are built from the fields (:meth:`TrainConfig.add_arguments`)
and the parsed flags become a config in one step (:meth:`TrainConfig.from_arguments`):
a default is written once, here. The config is saved in every checkpoint; a resumed run
takes it back whole: only the settings of :data:`RESUME_OVERRIDES` may change, and only
when given again (:func:`resumed_config`).
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Sequence

from nnlab.dogcat.models import ACTIVATIONS, DEFAULT_CHANNELS, MODEL_KINDS, ModelSpec
from nnlab.dogcat.schedules import SCHEDULERS, SchedulePlan
from nnlab.runtime import DEVICES

IMPLS = ("torch", "scratch", "both")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")
DTYPES = ("float32", "float64")

#: Settings whose default depends on the model: left None (not given), they take this table's value.
MODEL_DEFAULTS = {
    "logistic": dict(lr=1e-4, batch_size=128, epochs=15, scheduler="none", dropout=0.0, augment=False,
                     eval_batch_size=1024),
    "mlp": dict(lr=1e-4, batch_size=128, epochs=15, scheduler="none", dropout=0.0, augment=False,
                eval_batch_size=1024),
    # the CNN's activations and im2col columns grow with the batch: evaluate in training-sized batches
    "cnn": dict(lr=1e-3, batch_size=64, epochs=30, scheduler="cosine", dropout=0.3, augment=True,
                eval_batch_size=64),
}


def _per_model(name: str, show=lambda v: f"{v:g}") -> str:
    """``default: 0.0001 (logistic, mlp), 0.001 (cnn)`` for a setting of :data:`MODEL_DEFAULTS`."""
    by_value: dict = {}
    for model, values in MODEL_DEFAULTS.items():
        by_value.setdefault(show(values[name]), []).append(model)
    return "default: " + ", ".join(f"{v} ({', '.join(models)})" for v, models in by_value.items())

#: Settings a resumed run may change by giving them again (how long, where, how it reports); every
#: other setting shapes the model, the data split or the optimization and must stay as saved.
RESUME_OVERRIDES = ("epochs", "max_steps", "progress", "device", "data", "cache_dir", "workers", "compile",
                    "resident_data", "logdir", "tensorboard", "hist_every", "log_every", "checkpoint_every",
                    "eval_batch_size", "val_examples", "overwrite")


def _setting(default: Any = MISSING, *, factory: Any = MISSING, group: str | None = None, help: str = "",
             flag: str | None = None, only_with: Mapping[str, Sequence[str]] | None = None,
             **argparse_kwargs: Any) -> Any:
    """A field with its command-line form: ``group`` None keeps it off the command line.

    ``only_with`` names the settings under which the flag does something, e.g.
    ``{"model": ("mlp",)}``: giving the flag on the command line in another mode is an
    error (:meth:`TrainConfig.validated`), not silently ignored.
    """
    meta = dict(group=group, help=help, flag=flag, argparse=argparse_kwargs, only_with=dict(only_with or {}))
    return field(default=default, default_factory=factory, metadata=meta)


class _NotGiven:
    """Placeholder for an option the command line did not give (see :func:`parse_command_line`)."""

    def __repr__(self) -> str:
        return "<not given>"


NOT_GIVEN = _NotGiven()


def parse_command_line(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, plus ``args.given``: the dests of the options the command line gave.

    Every dest starts as :data:`NOT_GIVEN` in the namespace, so argparse fills in no default
    (it only sets missing attributes); what is still :data:`NOT_GIVEN` after parsing was not
    given and gets its default. A flag given with its default value counts as given.
    """
    dests = {a.dest for a in parser._actions if a.default is not argparse.SUPPRESS}
    args = parser.parse_args(argv, namespace=argparse.Namespace(**{d: NOT_GIVEN for d in dests}))
    given = set()
    for dest in dests:
        if getattr(args, dest) is NOT_GIVEN:
            setattr(args, dest, parser.get_default(dest))
        else:
            given.add(dest)
    args.given = frozenset(given)
    return args


DATA, MODEL, RUNTIME, OPTIMIZATION, LOGGING = (
    "data", "model", "implementation and device", "optimization", "logging and checkpoints")


@dataclass
class TrainConfig:
    """Every setting of a run; saved in the checkpoint and (a subset) in the TensorBoard hparams."""

    # data
    data: str | None = _setting(
        None, group=DATA, metavar="DIR",
        help="photo folder: Kaggle 'Dogs vs. Cats' train/ (cat.1.jpg, dog.2.jpg), Microsoft PetImages/ (Cat/, "
             "Dog/) or class folders cat/ and dog/. Default: $DOGCAT_DATA, else the shared 4,000-photo sample "
             "when present, else a small SYNTHETIC set generated in code")
    image_size: int = _setting(100, group=DATA, metavar="PX",
                               help="images are resized to PX x PX (the logistic model has 3*PX*PX inputs)")
    val_fraction: float = _setting(0.2, group=DATA,
                                   help="share of each class held out for validation (stratified split by --seed)")
    cache_dir: str | None = _setting(None, group=DATA, help="where the decoded uint8 image cache is kept "
                                     "(default: the data module's cache folder)")
    workers: int | None = _setting(None, group=DATA, type=int,
                                   help="processes decoding photos on the first pass (default: one per core)")
    augment: bool | None = _setting(None, group=DATA, action=argparse.BooleanOptionalAction,
                                    help="random horizontal flips and shifts of the training images, drawn from "
                                         "--seed (" + _per_model("augment", lambda v: "on" if v else "off") + ")")
    shift: int = _setting(8, group=DATA, metavar="PX", only_with={"augment": (True,)},
                          help="largest shift of --augment in pixels (reflect padding, then a random crop)")
    # model
    model: str = _setting("logistic", group=MODEL, choices=MODEL_KINDS,
                          help="logistic: the 3*PX*PX pixels straight into one sigmoid output; "
                               "mlp: hidden layers (see --hidden) before it; cnn: convolution blocks (see "
                               "--channels), global average pooling and dropout before it")
    hidden: list = _setting(factory=lambda: [256], group=MODEL, type=int, nargs="+", metavar="N",
                            only_with={"model": ("mlp",)},
                            help="hidden layer sizes of --model mlp, e.g. --hidden 256 or --hidden 512 128")
    activation: str = _setting("relu", group=MODEL, choices=tuple(ACTIVATIONS), only_with={"model": ("mlp", "cnn")},
                               help="nonlinearity after each hidden layer (mlp) or BatchNorm2d (cnn)")
    batchnorm: bool = _setting(False, group=MODEL, action="store_true", only_with={"model": ("mlp",)},
                               help="BatchNorm1d after each hidden Linear (mlp only)")
    channels: list = _setting(factory=lambda: list(DEFAULT_CHANNELS), group=MODEL, type=int, nargs="+", metavar="C",
                              only_with={"model": ("cnn",)},
                              help="output channels of the CNN's blocks (3x3 conv, BatchNorm2d, activation, 2x2 "
                                   "max-pool; each block halves the image)")
    dropout: float | None = _setting(None, group=MODEL, type=float, metavar="P", only_with={"model": ("mlp", "cnn")},
                                     help="probability of dropping a unit: after each hidden activation (mlp), "
                                          "before the classifier (cnn); " + _per_model("dropout"))
    # implementation and device
    impl: str = _setting(
        "torch", group=RUNTIME, choices=IMPLS,
        help="torch: torch.nn (GPU when available); scratch: the hand-written NumPy twin (CPU); both: the two in "
             "lockstep from the same weights on the same batches, reporting the largest parameter difference "
             "each epoch")
    device: str = _setting("auto", group=RUNTIME, choices=DEVICES,
                           help="auto: CUDA when torch sees a GPU, else CPU")
    dtype: str = _setting("float32", group=RUNTIME, choices=DTYPES,
                          help="floating-point type of weights and activations (float64 for parity checks)")
    amp: bool = _setting(False, group=RUNTIME, action="store_true",
                         help="automatic mixed precision for the torch twin (bfloat16 autocast; float16 with "
                              "gradient scaling on GPUs without bfloat16)")
    compile: bool = _setting(False, group=RUNTIME, action="store_true", only_with={"impl": ("torch", "both")},
                             help="torch.compile the torch model (fewer kernel launches)")
    resident_data: bool | None = _setting(
        None, group=RUNTIME, flag="--host-data", action="store_const", const=False,
        help="on CUDA, keep the images in host memory and copy each batch to the GPU (default: the uint8 set "
             "is uploaded once and batches are cut and normalized on the GPU)")
    # optimization
    optimizer: str = _setting("adam", group=OPTIMIZATION, choices=OPTIMIZERS,
                              help="sgd: plain SGD; momentum: SGD with --momentum; adam; adamw (decoupled "
                                   "weight decay); rmsprop; adagrad")
    lr: float | None = _setting(None, group=OPTIMIZATION, type=float,
                                help="learning rate (the peak of --scheduler onecycle); " + _per_model("lr"))
    momentum: float = _setting(0.9, group=OPTIMIZATION, only_with={"optimizer": ("momentum",)},
                               help="momentum of --optimizer momentum")
    weight_decay: float | None = _setting(None, group=OPTIMIZATION, type=float,
                                          help="L2 penalty (decoupled for adamw); default: torch's, 0 (0.01 "
                                               "for adamw)")
    batch_size: int | None = _setting(None, group=OPTIMIZATION, type=int,
                                      help="images per optimizer step; " + _per_model("batch_size", str))
    epochs: int | None = _setting(None, group=OPTIMIZATION, type=int,
                                  help="passes over the training images; " + _per_model("epochs", str))
    scheduler: str | None = _setting(
        None, group=OPTIMIZATION, choices=SCHEDULERS,
        help="learning-rate schedule: none; step (x --lr-gamma every --step-epochs); cosine (down to 0 over the "
             "run); onecycle (up to --lr, then down); plateau (x --lr-gamma when the validation loss stalls for "
             "--patience epochs); " + _per_model("scheduler", str))
    warmup_epochs: float = _setting(0.0, group=OPTIMIZATION, metavar="EPOCHS",
                                    only_with={"scheduler": ("none", "step", "cosine")},
                                    help="raise the rate linearly from lr/10 to --lr over these epochs (fractions "
                                         "allowed: 0.5 is half an epoch of steps) before the schedule")
    step_epochs: int = _setting(10, group=OPTIMIZATION, metavar="EPOCHS", only_with={"scheduler": ("step",)},
                                help="epochs between two decays of --scheduler step")
    lr_gamma: float = _setting(0.1, group=OPTIMIZATION, only_with={"scheduler": ("step", "plateau")},
                               help="factor of each decay of --scheduler step or plateau")
    patience: int = _setting(2, group=OPTIMIZATION, metavar="EPOCHS", only_with={"scheduler": ("plateau",)},
                             help="epochs without a better validation loss before --scheduler plateau decays")
    clip_grad: float | None = _setting(None, group=OPTIMIZATION, type=float, metavar="NORM",
                                       help="rescale the gradients to a total L2 norm of at most NORM before each "
                                            "step (default: no clipping)")
    seed: int = _setting(0, group=OPTIMIZATION, help="seeds the initial weights, the split and the batch order")
    max_steps: int | None = _setting(None, group=OPTIMIZATION, type=int,
                                     help="stop after this many optimizer steps in total (a checkpoint is "
                                          "written there; 0: no limit, which lifts a saved one on --resume)")
    # logging and checkpoints
    logdir: str | None = _setting(None, group=LOGGING,
                                  help="TensorBoard event files and checkpoint.pt go here (default: "
                                       "runs/<timestamp>-<config>)")
    tensorboard: bool = _setting(True, group=LOGGING, flag="--no-tensorboard", action="store_false",
                                 help="write no TensorBoard events (checkpoints still)")
    hist_every: int | None = _setting(None, group=LOGGING, type=int, metavar="STEPS",
                                      help="weight and gradient histograms every STEPS optimizer steps (0: never; "
                                           "default: twice an epoch, in its middle and at its end)")
    log_every: int = _setting(50, group=LOGGING, metavar="STEPS",
                              help="read the running loss (and check it is finite) every STEPS steps on GPU; "
                                   "on CPU it is checked every step")
    checkpoint_every: int = _setting(0, group=LOGGING, metavar="STEPS",
                                     help="also checkpoint every STEPS steps within an epoch (0: only at epoch "
                                          "ends)")
    progress: bool = _setting(True, group=LOGGING, flag="--no-progress", action="store_false",
                              help="no progress bars")
    overwrite: bool = _setting(False, group=LOGGING, action="store_true",
                               help="start afresh in a --logdir that holds an earlier run, deleting its "
                                    "checkpoint and event files (without it such a folder is refused)")
    # settings of the library only
    eval_batch_size: int | None = None  # None: the model's, from MODEL_DEFAULTS
    val_examples: int = 8
    #: names of the settings the command line gave (:func:`parse_command_line`); not saved
    given: frozenset = field(default=frozenset(), compare=False, repr=False)

    # -- the command line ------------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> dict[str, Any]:
        """One flag per command-line field, in argument groups; returns the groups by title."""
        groups: dict[str, Any] = {}
        for f in fields(cls):
            meta = f.metadata
            if not meta.get("group"):
                continue
            if meta["group"] not in groups:
                groups[meta["group"]] = parser.add_argument_group(meta["group"])
            kwargs = dict(meta["argparse"], dest=f.name, help=meta["help"])
            kwargs["default"] = f.default_factory() if f.default is MISSING else f.default
            if "action" not in kwargs and "type" not in kwargs and isinstance(kwargs["default"], (int, float)):
                kwargs["type"] = type(kwargs["default"])
            flag = meta["flag"] or "--" + f.name.replace("_", "-")
            groups[meta["group"]].add_argument(flag, **kwargs)
        return groups

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> "TrainConfig":
        """The config the parsed flags describe (fields without a flag keep their defaults); ``given``
        holds the settings the command line gave, when :func:`parse_command_line` parsed it."""
        names = [f.name for f in fields(cls) if f.metadata.get("group")]
        values = {name: getattr(args, name) for name in names if hasattr(args, name)}
        return cls(**values, given=frozenset(getattr(args, "given", ())) & set(names))

    @classmethod
    def flag(cls, name: str) -> str:
        """The command-line flag of setting ``name`` (``resident_data`` → ``--host-data``)."""
        meta = {f.name: f.metadata for f in fields(cls)}[name]
        return meta.get("flag") or "--" + name.replace("_", "-")

    def applies(self, name: str) -> bool:
        """Whether setting ``name`` does something under the other settings (its ``only_with``)."""
        only_with = {f.name: f.metadata.get("only_with", {}) for f in fields(self)}.get(name, {})
        return all(getattr(self, setting) in allowed for setting, allowed in only_with.items())

    def inapplicable(self) -> list[str]:
        """What is wrong with each given flag that does nothing under the other settings (``only_with``)."""
        problems = []
        for f in fields(self):
            for setting, allowed in f.metadata.get("only_with", {}).items():
                if f.name in self.given and getattr(self, setting) not in allowed:
                    flag, other = self.flag(f.name), self.flag(setting)
                    problems.append(f"{flag} applies only with {other} {' or '.join(map(str, allowed))} "
                                    f"(this run has {other} {getattr(self, setting)})")
        return problems

    # -- checks and derived settings ---------------------------------------------------

    def with_model_defaults(self) -> "TrainConfig":
        """A copy whose settings left None take the model's value from :data:`MODEL_DEFAULTS`."""
        defaults = MODEL_DEFAULTS.get(self.model, MODEL_DEFAULTS["logistic"])
        return replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})

    def validated(self) -> "TrainConfig":
        """A copy with the model's defaults filled in and ``hidden`` as ints; a ValueError naming the
        setting when one is out of range."""
        self = self.with_model_defaults()

        def one_of(name, options):
            if getattr(self, name) not in options:
                raise ValueError(f"{name}: expected one of {options}, got {getattr(self, name)!r}")

        one_of("impl", IMPLS)
        one_of("device", DEVICES)
        one_of("optimizer", OPTIMIZERS)
        one_of("dtype", DTYPES)
        one_of("scheduler", SCHEDULERS)
        for name in ("batch_size", "epochs", "image_size", "eval_batch_size"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name}: expected a positive integer, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr: expected a positive finite learning rate, got {self.lr}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {self.dropout}")
        if self.clip_grad is not None and not (self.clip_grad > 0 and math.isfinite(self.clip_grad)):
            raise ValueError(f"clip_grad: expected a positive finite norm, got {self.clip_grad}")
        if self.warmup_epochs < 0 or self.shift < 0 or self.step_epochs <= 0 or self.patience < 0:
            raise ValueError(f"warmup_epochs, shift, step_epochs, patience: expected non-negative numbers (positive "
                             f"step_epochs), got {self.warmup_epochs}, {self.shift}, {self.step_epochs}, "
                             f"{self.patience}")
        if self.augment and self.shift >= self.image_size:
            raise ValueError(f"shift: --augment shifts by less than the image (reflect padding); got --shift "
                             f"{self.shift} for {self.image_size}x{self.image_size} px images")
        if not 0 < self.lr_gamma <= 1:
            raise ValueError(f"lr_gamma: expected a factor in (0, 1], got {self.lr_gamma}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction: expected a value in (0, 1), got {self.val_fraction}")
        if self.impl != "torch" and self.amp:
            raise ValueError("--amp applies to the torch twin only; use it with --impl torch")
        if self.impl == "scratch" and self.device == "cuda":
            raise ValueError("--impl scratch runs on the CPU (NumPy); use --device cpu or auto")
        if self.max_steps is not None and self.max_steps < 0:
            raise ValueError(f"max_steps: expected a positive integer (or 0: no limit), got {self.max_steps}")
        if self.inapplicable():
            raise ValueError("; ".join(self.inapplicable()))
        return replace(self, hidden=[int(h) for h in self.hidden], channels=[int(c) for c in self.channels],
                       max_steps=self.max_steps or None)

    def model_spec(self, input_shape: Sequence[int] | None = None) -> ModelSpec:
        """The model these settings describe, for inputs of ``input_shape`` (default: 3 x image_size²)."""
        shape = (3, self.image_size, self.image_size) if input_shape is None else tuple(input_shape)
        c = self.with_model_defaults()
        return ModelSpec(kind=self.model, input_shape=shape, hidden=tuple(self.hidden), activation=self.activation,
                         batchnorm=self.batchnorm, channels=tuple(self.channels), dropout=c.dropout)

    def optimizer_kwargs(self) -> tuple[str, dict]:
        """Class name in ``torch.optim`` / ``scratch.optim`` and its arguments."""
        wd, lr = self.weight_decay, self.with_model_defaults().lr
        if wd is None:
            wd = 1e-2 if self.optimizer == "adamw" else 0.0  # torch's defaults
        if self.optimizer == "sgd":
            return "SGD", dict(lr=lr, weight_decay=wd)
        if self.optimizer == "momentum":
            return "SGD", dict(lr=lr, momentum=self.momentum, weight_decay=wd)
        name = {"adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}[self.optimizer]
        return name, dict(lr=lr, weight_decay=wd)

    def schedule_plan(self, steps_per_epoch: int) -> SchedulePlan:
        """The learning-rate schedule of these settings for epochs of ``steps_per_epoch`` steps."""
        c = self.with_model_defaults()
        return SchedulePlan.from_settings(c.scheduler, c.epochs, steps_per_epoch, c.warmup_epochs, c.step_epochs,
                                          c.lr_gamma, c.patience)

    def describe(self) -> str:
        """Run-folder suffix, e.g. ``logistic-torch-adam-lr0.0001-bs128``."""
        c = self.with_model_defaults()
        return f"{self.model_spec().describe()}-{c.impl}-{c.optimizer}-lr{c.lr:g}-bs{c.batch_size}"

    def hparams(self, spec: ModelSpec) -> dict:
        """The settings TensorBoard's HPARAMS tab compares runs by (plain values only): those that apply
        to this run's model, optimizer and scheduler."""
        d = {k: v for k, v in self.to_dict().items()
             if k in ("model", "activation", "batchnorm", "impl", "dtype", "optimizer", "lr", "momentum",
                      "weight_decay", "batch_size", "epochs", "seed", "amp", "image_size", "dropout",
                      "augment", "scheduler", "warmup_epochs", "clip_grad")}
        d = {k: v for k, v in d.items() if self.applies(k)}  # no activation for the logistic model
        if spec.kind == "mlp":
            d["hidden"] = "-".join(str(h) for h in spec.hidden)
        d["weight_decay"] = float(d["weight_decay"] or 0.0)
        d["clip_grad"] = float(d["clip_grad"] or 0.0)
        if spec.kind == "cnn":
            d["channels"] = "-".join(str(c) for c in spec.channels)
        return d

    # -- saving ------------------------------------------------------------------------

    def to_dict(self) -> dict:
        d = asdict(self)
        del d["given"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def resumed_config(saved: Mapping[str, Any], current: TrainConfig, checkpoint: str | Path) -> TrainConfig:
    """The run a checkpoint continues: its saved settings, with those of :data:`RESUME_OVERRIDES`
    that ``current.given`` names taken from ``current`` (``--epochs 20``, ``--device cpu``, …).

    ``data`` is ``--data`` when given, else ``$DOGCAT_DATA`` when set, else the saved folder, so a
    moved photo folder can be followed (the trainer then checks it holds the same photos). The run
    folder is ``current.logdir`` when given, else the checkpoint's own folder. Any other setting
    given with a value other than the saved one is a ValueError: it would change the model, the
    data split or the optimization the checkpoint belongs to.
    """
    if current.overwrite:
        raise ValueError("--overwrite and --resume contradict each other: --resume continues the run in its folder, "
                         "--overwrite deletes it and starts afresh; pass one of them")
    base = TrainConfig.from_dict(saved)
    changed = [name for name in sorted(current.given)
               if name not in RESUME_OVERRIDES and getattr(current, name) != getattr(base, name)]
    if changed:
        what = "; ".join(f"{TrainConfig.flag(name)} {getattr(current, name)!r} (the run has "
                         f"{getattr(base, name)!r})" for name in changed)
        raise ValueError(f"cannot change on --resume: {what}. A resumed run keeps the settings its checkpoint "
                         "was trained with; start a new run (another --logdir) to train with these")
    overrides = {name: getattr(current, name) for name in RESUME_OVERRIDES if name in current.given}
    if "data" not in current.given and os.environ.get("DOGCAT_DATA"):
        overrides["data"] = os.environ["DOGCAT_DATA"]
    folder = Path(checkpoint).parent if Path(checkpoint).is_file() else Path(checkpoint)
    overrides["logdir"] = current.logdir or str(folder)
    overrides["overwrite"] = current.overwrite  # what this command asks, never what the first run did
    return replace(base, **overrides, given=current.given)


def default_logdir(config: TrainConfig, root: str = "runs") -> str:
    """``runs/<timestamp>-<config>``, with ``-2``, ``-3``, … when a run of the same second took it."""
    base = Path(root) / f"{datetime.now():%Y%m%d-%H%M%S}-{config.describe()}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return str(path)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows the default of every option that takes a value, except where the help already
    speaks of its default, the default is None, or the option is required; on/off flags say
    it in their help. The description and epilog keep their line breaks (examples)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        if (action.nargs == 0 or action.required or action.default in (None, argparse.SUPPRESS)
                or "default" in help.lower()):
            return help
        return super()._get_help_string(action)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


__all__ = ["TrainConfig", "IMPLS", "DEVICES", "OPTIMIZERS", "DTYPES", "MODEL_DEFAULTS", "RESUME_OVERRIDES",
           "resumed_config", "default_logdir", "HelpFormatter", "NOT_GIVEN", "parse_command_line"]
