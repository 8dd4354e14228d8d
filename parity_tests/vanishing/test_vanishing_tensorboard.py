"""TensorBoard, for real: write a short run of both twins, start the installed
``tensorboard`` server on a free loopback port, and read the logs back over HTTP.

Endpoints (``tensorboard/plugins/{scalar,histogram}``):
``/data/plugin/{scalars,histograms,images}/tags`` → ``{run: {tag: …}}``;
``/data/plugin/scalars/scalars?run=R&tag=T`` → ``[[wall_time, step, value], …]``.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from nnlab.vanishing.config import IMPLEMENTATIONS, MLPConfig, StudySettings
from nnlab.vanishing.loops import logged_steps
from nnlab.vanishing.profile import PROFILE_TAG
from nnlab.vanishing.stats import LOSS_TAG, act_hist_tag, preact_hist_tag, weight_grad_hist_tag, weight_grad_norm_tag
from nnlab.vanishing.study import run_study

HOST = "127.0.0.1"
DEPTH, STEPS, LOG_EVERY = 4, 6, 2
CONFIG = MLPConfig("sigmoid", "default", False, DEPTH, 16)
RUNS = [f"{impl}/{CONFIG.name}" for impl in IMPLEMENTATIONS]


def tensorboard_executable() -> str | None:
    beside = Path(sys.executable).with_name("tensorboard")
    return str(beside) if beside.is_file() else shutil.which("tensorboard")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy


def get_json(port: int, path: str, **params):
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with _no_proxy.open(f"http://{HOST}:{port}{path}{query}", timeout=5) as response:
        return json.load(response)


def wait_until(predicate, proc, timeout: float = 60.0, what: str = ""):
    """Poll ``predicate`` (connection errors count as not yet) until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"tensorboard exited with code {proc.returncode} while waiting for {what}")
        try:
            value = predicate()
            if value:
                return value
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError) as err:
            last_error = err
        time.sleep(0.25)
    pytest.fail(f"tensorboard did not serve {what} within {timeout:.0f} s (last error: {last_error!r})")


def test_tensorboard_serves_both_twins(tmp_path):
    exe = tensorboard_executable()
    if exe is None:
        pytest.skip("tensorboard executable not found next to the interpreter or on PATH")
    logdir = tmp_path / "runs"
    settings = StudySettings(steps=STEPS, batch_size=64, log_every=LOG_EVERY, n_samples=256)
    result = run_study([CONFIG], settings, logdir=logdir)[0]
    expected_steps = logged_steps(STEPS, LOG_EVERY)
    assert len(expected_steps) == 3

    port = free_port()
    log = open(tmp_path / "tensorboard.log", "wb")
    proc = subprocess.Popen(
        [exe, "--logdir", str(logdir), "--port", str(port), "--host", HOST, "--reload_interval", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        def scalar_tags_of_both_runs():
            tags = get_json(port, "/data/plugin/scalars/tags")
            return tags if all(LOSS_TAG in tags.get(run, {}) for run in RUNS) else None

        wait_until(scalar_tags_of_both_runs, proc, what="the scalar tags of both runs")

        def full_loss_series():
            series = {run: get_json(port, "/data/plugin/scalars/scalars", run=run, tag=LOSS_TAG) for run in RUNS}
            return series if all(len(s) == len(expected_steps) for s in series.values()) else None

        series = wait_until(full_loss_series, proc, what=f"{len(expected_steps)} loss points per run")
        for run in RUNS:
            assert [step for _, step, _ in series[run]] == expected_steps, run

        histogram_tags = get_json(port, "/data/plugin/histograms/tags")
        for run in RUNS:
            missing = [weight_grad_hist_tag(k) for k in range(DEPTH) if weight_grad_hist_tag(k) not in histogram_tags[run]]
            assert not missing, f"{run}: no gradient histogram for {missing}"
            assert {preact_hist_tag(k) for k in range(DEPTH - 1)} <= set(histogram_tags[run])
            assert {act_hist_tag(k) for k in range(DEPTH - 1)} <= set(histogram_tags[run])

        image_tags = get_json(port, "/data/plugin/images/tags")  # the depth profile, drawing both twins
        for run in RUNS:
            assert PROFILE_TAG in image_tags[run], run

        # same tags, same numbers: TensorBoard overlays two equal curves (float32 in the event file)
        norms = {
            run: [v for _, _, v in get_json(port, "/data/plugin/scalars/scalars", run=run, tag=weight_grad_norm_tag(0))]
            for run in RUNS
        }
        np.testing.assert_allclose(norms[RUNS[0]], norms[RUNS[1]], rtol=1e-6)
        np.testing.assert_allclose(norms[RUNS[1]], [s.weight_grad_norm[0] for s in result.runs["torch"].stats], rtol=1e-6)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        log.close()
