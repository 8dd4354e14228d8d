"""What logging costs the study: logged training steps timed against plain ones."""

from __future__ import annotations

import math
import tempfile
import time
from typing import Any

import torch

import scratch.optim as scratch_optim
from nnlab.tensorboard import EventWriter
from nnlab.vanishing.config import IMPLEMENTATIONS, MLPConfig, StudySettings
from nnlab.vanishing.networks import twin_mlps
from nnlab.vanishing.profile import PROFILE_TAG, norm_range, profile_png
from nnlab.vanishing.stats import numpy_stats_packed, scratch_loss, torch_stats_host, unpack_stats, write_stats
from nnlab.vanishing.taps import scratch_pass, torch_pass
from nnlab.vanishing.task import make_synthetic_task, minibatch_schedule


def measure_logging_overhead(
    config: MLPConfig | None = None,
    settings: StudySettings | None = None,
    *,
    impl: str = "torch",
    device: str | torch.device = "cpu",
    repeats: int = 30,
    threads: int | None = 1,
) -> dict[str, Any]:
    """Cost of logging every ``settings.log_every`` steps, relative to training without it.

    Three kinds of training step are timed, interleaved, ``repeats`` times
    each, keeping the fastest (the least disturbed by other processes):

    * ``plain``: forward, backward, optimizer step;
    * ``scalars``: the same, recording the taps, computing loss, gradient
      norms and dead fractions, one host copy, and writing the scalars;
    * ``full``: ``scalars`` plus the histograms of weight gradients,
      pre-activations and activations;

    and, apart, the depth profile the study adds per logged step once both
    twins ran: one image drawn, encoded and written into both twins' runs
    (each twin's share is half of it).

    A run logs one step in ``log_every``, so its overhead is
    ``(t_logged − t_plain + t_profile / 2) / (log_every · t_plain)``. Returns the seconds per
    step, ``total_overhead`` (``full`` and the profile against ``plain``) and
    ``histogram_overhead`` (``full`` against ``scalars``). On CUDA every timed
    step is bracketed by ``torch.cuda.synchronize()``; on CPU the clock is
    the process CPU time (every thread's, so the event writer's thread, which
    checksums and writes each event, counts: every timed step ends with a
    flush), with torch and BLAS limited to ``threads`` threads
    for the measurement (restored afterwards). Writing goes to a temporary
    TensorBoard folder. Reproduce the figure quoted in the README with::

        python -c "from nnlab.vanishing import measure_logging_overhead as m; print(m(impl='torch')); print(m(impl='scratch'))"
    """
    if threads is not None:
        from threadpoolctl import threadpool_limits

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with threadpool_limits(threads):
                return measure_logging_overhead(config, settings, impl=impl, device=device, repeats=repeats, threads=None)
        finally:
            torch.set_num_threads(previous)

    config = config or MLPConfig()
    settings = settings or StudySettings()
    device = torch.device(device)
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"impl: expected one of {IMPLEMENTATIONS}, got {impl!r}")
    task = make_synthetic_task(settings.n_samples, settings.in_features, settings.n_classes, settings.seed, settings.dtype)
    idx = minibatch_schedule(task.x.shape[0], settings.batch_size, 1, settings.seed)[0]
    scratch_model, torch_model = twin_mlps(config, task.in_features, task.n_classes, settings.dtype, settings.seed, device)
    depth = config.depth
    lr = settings.lr * 1e-3

    last: dict[str, Any] = {}

    def write_logged_step(writer: Any, stats: Any, full: bool) -> None:
        write_stats(writer, stats, 0)
        last["norms"] = stats.weight_grad_norm

    def depth_profile(writer: Any) -> None:
        """What the study adds per logged step once both twins ran: one image, written into both runs."""
        norms = {twin: last["norms"] for twin in IMPLEMENTATIONS}
        png = profile_png(norms, config.name, norm_range(list(norms.values())))
        for _ in IMPLEMENTATIONS:
            writer.write(0, images={PROFILE_TAG: png})
  # keep the weights (nearly) where they are while timing
    if impl == "torch":
        model = torch_model
        x = torch.as_tensor(task.x[idx]).to(device)
        y = torch.as_tensor(task.y[idx]).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=settings.momentum)
        loss_fn = torch.nn.CrossEntropyLoss()

        def one_step(logged: bool, histograms: bool, writer: Any) -> None:
            opt.zero_grad(set_to_none=True)
            taps = torch_pass(model, x, y, loss_fn, record=logged)
            if logged:
                packed = torch_stats_host(taps, histograms, settings.bins)
                write_logged_step(writer, unpack_stats(packed, depth, histograms, settings.bins), histograms)
            opt.step()
    else:
        model = scratch_model
        x, y = task.x[idx], task.y[idx]
        opt = scratch_optim.SGD(model.parameters(), lr=lr, momentum=settings.momentum)
        loss_fn = scratch_loss()

        def one_step(logged: bool, histograms: bool, writer: Any) -> None:
            opt.zero_grad()
            taps = scratch_pass(model, x, y, loss_fn, record=logged)
            if logged:
                packed = numpy_stats_packed(taps, histograms, settings.bins)
                write_logged_step(writer, unpack_stats(packed, depth, histograms, settings.bins), histograms)
            opt.step()

    # CPU: process CPU time, which a busy shared machine disturbs far less than
    # wall time (the loop is single-threaded under set_num_threads(1) and
    # threadpool_limits(1)); CUDA: wall time between synchronisations.
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    variants = {"plain": (False, False), "scalars": (True, False), "full": (True, True)}
    best = {name: math.inf for name in (*variants, "profile")}
    with tempfile.TemporaryDirectory() as tmp:
        writer = EventWriter(tmp)
        try:
            for name, (logged, hist) in variants.items():  # warm-up
                one_step(logged, hist, writer)
            depth_profile(writer)
            for _ in range(repeats):
                for name, (logged, hist) in variants.items():
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    t0 = clock()
                    one_step(logged, hist, writer)
                    writer.flush()  # the event written, checksummed and on disk: in the time
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    best[name] = min(best[name], clock() - t0)
                t0 = clock()
                depth_profile(writer)
                writer.flush()
                best["profile"] = min(best["profile"], clock() - t0)
        finally:
            writer.close()
    n = settings.log_every
    return {
        "impl": impl,
        "device": str(device),
        "log_every": n,
        "clock": "wall" if device.type == "cuda" else "process CPU time",
        "seconds_plain_step": best["plain"],
        "seconds_logged_step_scalars": best["scalars"],
        "seconds_logged_step_full": best["full"],
        "seconds_depth_profile": best["profile"],
        "total_overhead": (best["full"] - best["plain"] + best["profile"] / 2) / (n * best["plain"]),
        "histogram_overhead": (best["full"] - best["scalars"]) / (n * best["plain"]),
    }


__all__ = ["measure_logging_overhead"]
