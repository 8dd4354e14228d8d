"""Module plumbing shared by every layer: state_dict keys across the twins, as torch reports them."""

import numpy as np
import pytest
import torch

import scratch.layers as sl
import torch_ref.layers as tl
from torch_ref.module import load_scratch_state


def test_load_scratch_state_takes_module_or_mapping_and_keeps_torch_dtypes():
    rng = np.random.default_rng(6)
    s = sl.Sequential(sl.Linear(3, 4, dtype=np.float64, rng=rng), sl.Linear(4, 2, dtype=np.float64, rng=rng))
    t = tl.Sequential(tl.Linear(3, 4), tl.Linear(4, 2))  # float32: values are cast as copy_ casts
    result = load_scratch_state(t, s)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert t[0].weight.dtype == torch.float32
    np.testing.assert_array_equal(t[1].bias.detach().numpy(), s[1].bias.data.astype(np.float32))
    t64 = tl.Sequential(tl.Linear(3, 4), tl.Linear(4, 2)).double()
    load_scratch_state(t64, s.state_dict())
    np.testing.assert_array_equal(t64[0].weight.detach().numpy(), s[0].weight.data)
    partial = {"0.weight": s[0].weight.data}
    result = load_scratch_state(t64, partial, strict=False)
    assert "1.bias" in result.missing_keys


def test_load_state_dict_reports_keys_like_torch():
    rng = np.random.default_rng(7)
    s = sl.Sequential(sl.Linear(3, 4, dtype=np.float64, rng=rng), sl.Linear(4, 2, dtype=np.float64, rng=rng))
    t = tl.Sequential(tl.Linear(3, 4), tl.Linear(4, 2)).double()
    state = {"0.weight": rng.standard_normal((4, 3)), "extra": np.zeros(1)}
    s_keys = s.load_state_dict(state, strict=False)
    t_keys = load_scratch_state(t, state, strict=False)
    assert s_keys.missing_keys == t_keys.missing_keys == ["0.bias", "1.weight", "1.bias"]
    assert s_keys.unexpected_keys == t_keys.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(s[0].weight.data, state["0.weight"])
    assert s.load_state_dict(t.state_dict()) == ([], [])
    for model, load in ((s, s.load_state_dict), (t, lambda st: load_scratch_state(t, st))):
        with pytest.raises(RuntimeError, match="Error.s. in loading state_dict"):
            load(state)
