"""make gpu-check on a machine without CUDA: it says so and runs nothing; its pieces read and write what they should."""

import json

import pytest
import torch

from nnlab.bench.gpu_check import PARTS, TEST_FILES, figure_in_this_process, read_test_log
from nnlab.cli.gpu_check import main


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: make gpu-check would run everything")
def test_without_cuda_it_says_so_and_runs_nothing(tmp_path, capsys):
    out = tmp_path / "gpu-check.json"
    assert main(["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("no CUDA device: torch ") and printed.rstrip().endswith("nothing was run")
    assert not out.exists()


def test_the_time_limits_fit_four_minutes_and_every_cuda_test_file_runs():
    assert sum(limit for _, limit, _, _ in PARTS) <= 230  # process starts and the JSON fit in the rest of 240 s
    from nnlab.bench.settings import REPO_ROOT

    assert sorted(TEST_FILES) == sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "parity_tests" / "cuda")
                                        .glob("test_*.py"))


def test_the_test_log_keeps_each_tests_worst_phase(tmp_path):
    log = tmp_path / "tests.jsonl"
    lines = [
        {"nodeid": "a", "phase": "call", "outcome": "passed", "seconds": 1.0, "message": ""},
        {"nodeid": "a", "phase": "teardown", "outcome": "error", "seconds": 0.1, "message": "boom"},
        {"nodeid": "b", "phase": "setup", "outcome": "skipped", "seconds": 0.0, "message": "Skipped: no CUDA"},
        {"nodeid": "c", "phase": "call", "outcome": "failed", "seconds": 2.0, "message": "assert 1e-3 <= 1e-10"},
    ]
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    got = {t["nodeid"]: (t["outcome"], t["message"]) for t in read_test_log(log)}
    assert got == {"a": ("error", "boom"), "b": ("skipped", "Skipped: no CUDA"), "c": ("failed", "assert 1e-3 <= 1e-10")}
    assert read_test_log(tmp_path / "missing.jsonl") == []


def test_a_figure_child_writes_its_rows(tmp_path):
    out = tmp_path / "figure.json"
    assert figure_in_this_process("gpu_epoch", {"gpu_variants": ["compile"]}, out) == 0
    entry = json.loads(out.read_text())
    assert entry["settings"]["gpu_variants"] == ["compile"] and entry["settings"]["gpu_batches"] == [1024]
    cases = [r["case"] for r in entry["rows"]]
    assert len(cases) == 2 and cases[1] == "logistic, 25,000 images, batch 1024, compile"
    if not torch.cuda.is_available():
        assert all(r["skipped"] and "no CUDA device" in r["reason"] for r in entry["rows"])
