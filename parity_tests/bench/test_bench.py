"""The benchmark runs end to end: every figure in toy sizes, a valid JSON file, a table.

Nothing here asserts a timing (the figures' targets are reported by the benchmark,
not tested): only that each figure either produced rows with numbers or is marked
skipped with a reason, and that the machine description is there.
"""

import json
import math

import torch

from nnlab import bench
from parity_tests.scripts import load_script


def test_tiny_benchmark_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "results" / "bench.json"
    main = load_script("bench").main

    assert main(["--tiny", "--no-progress", "--out", str(out)]) == 0

    result = json.loads(out.read_text())
    assert list(result["figures"]) == list(bench.FIGURES)
    machine = result["machine"]
    for key in ("cpu_model", "cores_available", "numpy", "torch", "threadpools", "gpu"):
        assert key in machine, key
    for name, entry in result["figures"].items():
        assert "error" not in entry, f"{name}: {entry.get('error')}"
        assert entry["rows"], f"{name}: no rows"
        for row in entry["rows"]:
            where = f"{name} / {row['case']}"
            if row["skipped"]:
                assert row["reason"], f"{where}: skipped without a reason"
                assert row["median"] is None, where
            elif not row["reason"]:
                assert math.isfinite(row["median"]) and row["min"] <= row["median"] <= row["max"], where
                assert row["met"] in ((True, False) if row["target"] else (None,)), where
    if not torch.cuda.is_available():
        for name in bench.GPU_FIGURES:
            assert result["figures"][name]["skipped"], name
            assert all(r["skipped"] and "CUDA" in r["reason"] for r in result["figures"][name]["rows"]), name
    assert result["figures"]["parity_suite"]["skipped"]  # tiny mode never runs the suite (no recursion)
    printed = capsys.readouterr().out
    assert "median" in printed and "target" in printed and str(out) in printed


def test_only_marks_the_other_figures_not_selected(tmp_path):
    result = bench.run_benchmark("tiny", only=["parity_suite"], progress=False)
    path = bench.write_json(result, tmp_path / "only.json")
    loaded = json.loads(path.read_text())
    assert loaded["figures"]["train_step"] == {"skipped": True, "reason": "not selected (--only)", "rows": [],
                                               "seconds": 0.0}
    assert loaded["figures"]["parity_suite"]["rows"][0]["skipped"]
    assert "not selected" in bench.format_table(loaded)
