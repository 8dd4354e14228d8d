"""The study's TensorBoard front page: a run ``overview`` beside the twins' runs, holding what to
look at (text), the study's table (text) and plot (image), and the custom-scalars layout that
draws every layer's gradient norm of one configuration in one chart."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from nnlab.tensorboard import EventWriter
from nnlab.vanishing.profile import PROFILE_TAG
from nnlab.vanishing.stats import LOSS_TAG, dead_fraction_tag, layer_tag, log10_grad_norm_tag, weight_grad_norm_tag
from nnlab.vanishing.study import ConfigResult

OVERVIEW_RUN = "overview"
#: The study's PNG, in the group TensorBoard's first tab opens on, beside the per-step profiles.
PLOT_TAG = PROFILE_TAG.split("/")[0] + "/every_configuration_at_initialization"
HOW_TO_READ_TAG = "how_to_read"
TABLE_TAG = "study/table"


def custom_scalars_layout() -> dict:
    """CUSTOM SCALARS tab: each chart overlays every layer (``layer_\\d+``) of the selected runs."""
    every_layer = r"layer_\d+"
    return {"vanishing gradients, every layer in one chart (select one configuration's runs)": {
        "log10 |dL/dW| per layer": [log10_grad_norm_tag(0).replace(layer_tag(0), every_layer)],
        "|dL/dW| per layer": [weight_grad_norm_tag(0).replace(layer_tag(0), every_layer)],
        "fraction of dead units per hidden layer": [dead_fraction_tag(0).replace(layer_tag(0), every_layer)],
        "training loss": [LOSS_TAG],
    }}


def how_to_read(results: Sequence[ConfigResult]) -> str:
    """Markdown: where each view is and how to read it, with this study's own numbers."""
    example = ""
    if results:
        first = results[0]
        run = first.runs.get("torch") or next(iter(first.runs.values()))
        norms = run.initial.weight_grad_norm
        example = (f" In `{first.config.name}` at step 0, |dL/dW| is {norms[0]:.1e} at layer 1 and "
                   f"{norms[-1]:.1e} at layer {len(norms)}.")
    return f"""# Vanishing gradients: what to look at

1. **TIME SERIES, group `{PROFILE_TAG.split('/')[0]}`** (the first group): for each run and logged step,
   the weight-gradient norm |dL/dW| of every layer against the layer (1 = next to the input), on a
   log axis; scratch (blue squares and line) and torch (orange rings) in the same image. Drag the
   step slider to watch it during training. A profile that climbs from left to right is a
   vanishing gradient: the first layers get orders of magnitude less signal than the last.{example}
   The image `{PLOT_TAG.split('/')[1]}` (run `{OVERVIEW_RUN}`) shows every configuration at step 0.
2. **CUSTOM SCALARS**: log10 |dL/dW| of every layer in one chart. Select the two runs of one
   configuration (type e.g. `sigmoid-d10-default` into the run filter) so the chart shows its layers.
3. **`grad_norm/weight/layer_NN`**: one chart per layer; scratch and torch share the tags, so each
   chart overlays two equal curves.
4. **HISTOGRAMS `grad_hist/weight/layer_NN`**: TensorBoard scales each card's x-axis to its own
   values, so every layer looks alike in *shape*; the *scale* is on the axis labels (or in the depth
   profile). `preact_hist` and `act_hist` show saturation (sigmoid outputs piled at 0 and 1) and dead
   ReLUs (a spike at exactly 0); `dead_fraction/layer_NN` counts units whose gradient is 0 for the
   whole batch.
5. **TEXT `{TABLE_TAG}`**: the table of first/last layer gradient ratios and losses.
"""


def write_overview(logdir: str | Path, results: Sequence[ConfigResult], table: str,
                   plot: str | Path | None = None) -> Path:
    """Write the ``overview`` run: how to read the study, the table, the plot (a PNG file) and the
    custom-scalars layout. Returns the run's folder."""
    folder = Path(logdir) / OVERVIEW_RUN
    with EventWriter(folder) as writer:
        writer.custom_scalars(custom_scalars_layout())
        writer.text(HOW_TO_READ_TAG, how_to_read(results))
        writer.text(TABLE_TAG, table)
        if plot is not None:
            writer.write(0, images={PLOT_TAG: Path(plot).read_bytes()})
    return folder


__all__ = ["OVERVIEW_RUN", "PLOT_TAG", "HOW_TO_READ_TAG", "TABLE_TAG", "custom_scalars_layout", "how_to_read",
           "write_overview"]
