"""The study in TensorBoard: a depth-profile image per logged step in both twins' runs (both twins
drawn in it), and an ``overview`` run with what to look at, the table, the plot and a custom-scalars
chart of every layer."""

import io

import numpy as np
import pytest
from PIL import Image

from nnlab.vanishing.board import HOW_TO_READ_TAG, OVERVIEW_RUN, PLOT_TAG, TABLE_TAG, write_overview
from nnlab.vanishing.config import MLPConfig, StudySettings
from nnlab.vanishing.profile import PROFILE_TAG, STYLE, depth_profile_image, norm_range
from nnlab.vanishing.report import format_table, plot_grad_norms
from nnlab.vanishing.stats import log10_grad_norm_tag
from nnlab.vanishing.study import run_study

CONFIG = MLPConfig("sigmoid", "default", False, 5, 16)
STEPS, LOG_EVERY = 7, 3


def events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def pixels(encoded: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs")
    settings = StudySettings(steps=STEPS, batch_size=32, log_every=LOG_EVERY, n_samples=128)
    results = run_study([CONFIG], settings, logdir=logdir)
    return logdir, results


def test_each_twin_run_holds_a_depth_profile_per_logged_step_drawing_both_twins(study):
    logdir, results = study
    for impl in ("scratch", "torch"):
        acc = events(logdir / impl / CONFIG.name)
        profiles = acc.Images(PROFILE_TAG)
        assert [e.step for e in profiles] == [0, 3, 6] == results[0].runs[impl].logged_steps
        image = pixels(profiles[0].encoded_image_string)
        assert image.shape == (profiles[0].height, profiles[0].width, 3) == (240, 400, 3)
        for twin, (colour, _) in STYLE.items():  # both twins' colours are drawn (points and legend)
            assert np.all(image == colour, axis=-1).sum() > 20, twin
        log10 = [e.value for e in acc.Scalars(log10_grad_norm_tag(0))]
        norms = [s.weight_grad_norm[0] for s in results[0].runs[impl].stats]
        np.testing.assert_allclose(log10, np.log10(norms), rtol=1e-6)


def test_the_profile_puts_larger_norms_higher_and_moves_with_them():
    y_range = (1e-6, 1e0)
    low = depth_profile_image({"torch": [1e-5, 1e-5, 1e-5]}, "t", y_range)
    high = depth_profile_image({"torch": [1e-1, 1e-1, 1e-1]}, "t", y_range)

    def ring_rows(img):
        rgb = np.asarray(img.convert("RGB"))[30:]  # below the legend
        return np.flatnonzero(np.all(rgb == STYLE["torch"][0], axis=-1).any(axis=1)) + 30

    assert ring_rows(high).mean() < ring_rows(low).mean() - 50  # 4 decades apart on a 5-decade axis
    assert norm_range([np.array([3e-7, 0.0, np.nan, 0.2])]) == (1e-7, 1e0)


def test_overview_run_has_how_to_read_table_plot_and_a_chart_of_every_layer(study, tmp_path):
    logdir, results = study
    table = format_table(results, STEPS)
    png = plot_grad_norms(results, tmp_path / "plot.png")
    write_overview(logdir, results, table, png)
    acc = events(logdir / OVERVIEW_RUN)
    texts = acc.PluginTagToContent("text")
    assert {HOW_TO_READ_TAG, TABLE_TAG} <= set(texts)
    table_text = acc.Tensors(TABLE_TAG)[0].tensor_proto.string_val[0].decode()
    assert table_text == table and "| sigmoid" in table_text
    guide = acc.Tensors(HOW_TO_READ_TAG)[0].tensor_proto.string_val[0].decode()
    norms = results[0].runs["torch"].initial.weight_grad_norm
    assert PROFILE_TAG.split("/")[0] in guide and f"{norms[0]:.1e} at layer 1" in guide
    assert acc.Images(PLOT_TAG)[0].encoded_image_string == png.read_bytes()

    from tensorboard.plugins.custom_scalar import layout_pb2, metadata

    layout = layout_pb2.Layout.FromString(acc.Tensors(metadata.CONFIG_SUMMARY_TAG)[0].tensor_proto.string_val[0])
    charts = {c.title: list(c.multiline.tag) for cat in layout.category for c in cat.chart}
    import re

    pattern = re.compile(charts["log10 |dL/dW| per layer"][0])
    scalar_tags = events(logdir / "torch" / CONFIG.name).Tags()["scalars"]
    assert sorted(t for t in scalar_tags if pattern.fullmatch(t)) == [log10_grad_norm_tag(k) for k in range(5)]
