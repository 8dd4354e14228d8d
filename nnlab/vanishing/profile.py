"""The depth profile: weight-gradient norm against layer, log axis, both twins in one small image.

TensorBoard draws one scalar chart per layer; the profile puts every layer of a logged
step on one axis, so the slope from the last layer (right) to the first (left) *is*
the vanishing gradient. One image per logged step, stored under the same tag in both
twins' runs, moves with TensorBoard's step slider; every step of a configuration shares
one y range, so a profile that rises or sinks during training shows it.

Drawn with Pillow, not matplotlib: the axes, grid, labels, title and legend are drawn
once per configuration into a palette image and copied for each step, which adds only
the twins' points; a palette PNG is small and quick to encode (TensorBoard shows the
step above the image). ``overhead`` measures the image with the rest of the logging.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from nnlab.tensorboard import EventWriter, png_bytes

#: TensorBoard tag of the image. A group name starting with a digit sorts before every
#: other group, so TensorBoard's first tab (TIME SERIES) opens on the profile.
PROFILE_TAG = "0_depth_profile/weight_grad_norm_by_layer"

SIZE = (400, 240)  # width, height in pixels
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 12, 24, 34
#: line colour and marker of each twin: scratch a blue line with squares, torch orange rings on top
#: of it (equal values show a ring around every square).
STYLE = {"scratch": ((31, 119, 180), "square"), "torch": ((255, 127, 14), "ring")}


def norm_range(norms: Sequence[np.ndarray]) -> tuple[float, float]:
    """Decades spanning every positive finite norm: (10^floor(log10 min), 10^ceil(log10 max))."""
    values = np.concatenate([np.asarray(n, dtype=np.float64).ravel() for n in norms]) if len(norms) else np.ones(1)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 1e-1, 1e1
    lo, hi = math.floor(math.log10(values.min())), math.ceil(math.log10(values.max()))
    return 10.0 ** lo, 10.0 ** max(hi, lo + 1)


def depth_profile_image(norms: Mapping[str, Sequence[float]], title: str, y_range: tuple[float, float],
                        size: tuple[int, int] = SIZE) -> Any:
    """A palette (mode "P") Pillow image: ``norms[twin][k]`` (layer k + 1) on a log y axis over ``y_range``.

    The frame (axes, grid, labels, ``title``, legend) comes from a cache; only the twins'
    points are drawn here. A norm of 0 (a dead layer) sits on the bottom edge; NaN and ∞
    are left out. ``np.asarray(image.convert("RGB"))`` gives the HWC array.
    """
    depth = max(len(v) for v in norms.values())
    frame, ink = _frame(depth, float(y_range[0]), float(y_range[1]), tuple(size), title, tuple(norms))
    from PIL import ImageDraw

    image = frame.copy()
    draw = ImageDraw.Draw(image)
    to_x, to_y = _axes(depth, y_range, size)
    for twin, values in norms.items():
        v = np.asarray(values, dtype=np.float64)
        points = [(to_x(k), to_y(x)) for k, x in enumerate(v) if math.isfinite(x)]
        if STYLE.get(twin, STYLE["scratch"])[1] == "square" and len(points) > 1:
            draw.line(points, fill=ink[twin], width=2)
        for x, y in points:
            _marker(draw, x, y, ink[twin], STYLE.get(twin, STYLE["scratch"])[1])
    return image


def profile_png(norms: Mapping[str, Sequence[float]], title: str, y_range: tuple[float, float]) -> bytes:
    """:func:`depth_profile_image` encoded as PNG, ready for ``EventWriter.write(images=…)``."""
    return png_bytes(depth_profile_image(norms, title, y_range))


def write_depth_profiles(writers: Mapping[str, EventWriter], logged: Mapping[str, tuple[Sequence[int], Sequence[Any]]],
                         title: str) -> None:
    """For every logged step, one image of every twin's weight-gradient norms, written into every
    twin's run under :data:`PROFILE_TAG`. ``logged[twin]`` is (logged steps, their ``LayerStats``);
    all steps share the y range of all norms, so the slider shows the profile move."""
    by_step: dict[int, dict[str, np.ndarray]] = {}
    for twin, (steps, stats) in logged.items():
        for step, s in zip(steps, stats):
            by_step.setdefault(int(step), {})[twin] = s.weight_grad_norm
    y_range = norm_range([n for norms in by_step.values() for n in norms.values()])
    for step, norms in sorted(by_step.items()):
        png = profile_png(norms, title, y_range)
        for writer in writers.values():
            writer.write(step, images={PROFILE_TAG: png})


def _marker(draw: Any, x: float, y: float, colour: Any, kind: str) -> None:
    if kind == "ring":
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), outline=colour, width=2)
    else:
        draw.rectangle((x - 2, y - 2, x + 2, y + 2), fill=colour)


def _axes(depth: int, y_range: tuple[float, float], size: tuple[int, int]):
    """Pixel x of layer index k (0-based) and pixel y of a norm, for this plot area."""
    width, height = size
    x0, x1, y0, y1 = _LEFT + 10, width - _RIGHT - 10, height - _BOTTOM, _TOP
    lo, hi = math.log10(y_range[0]), math.log10(y_range[1])

    def to_x(k: int) -> float:
        return x0 + (x1 - x0) * (k / max(depth - 1, 1))

    def to_y(v: float) -> float:
        t = (math.log10(v) - lo) / (hi - lo) if v > 0 else 0.0
        return y0 + (y1 - y0) * min(max(t, 0.0), 1.0)

    return to_x, to_y


@lru_cache(maxsize=1)
def _font():
    from PIL import ImageFont

    return ImageFont.load_default()


@lru_cache(maxsize=64)
def _frame(depth: int, lo: float, hi: float, size: tuple[int, int], title: str,
           twins: tuple[str, ...]) -> tuple[Any, dict[str, int]]:
    """The axes, decade grid, labels, title and legend of a plot, drawn once per configuration in
    RGB (smooth text), then reduced to a palette with one entry per twin: (image, twin → entry)."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = _font()
    to_x, to_y = _axes(depth, (lo, hi), size)
    left, right, top, bottom = _LEFT, width - _RIGHT, _TOP, height - _BOTTOM
    decades = range(round(math.log10(lo)), round(math.log10(hi)) + 1)
    every = max(1, math.ceil(len(decades) / 8))  # at most 8 labelled decades
    for d in decades:
        y = to_y(10.0 ** d)
        draw.line((left, y, right, y), fill=(225, 225, 225))
        if (d - decades[0]) % every == 0:
            draw.text((4, y - 6), f"1e{d}", fill=(60, 60, 60), font=font)
    label_every = max(1, math.ceil(depth / 12))
    for k in range(depth):
        x = to_x(k)
        draw.line((x, bottom, x, bottom + 3), fill=(60, 60, 60))
        if k % label_every == 0 or k == depth - 1:
            draw.text((x - 3, bottom + 4), str(k + 1), fill=(60, 60, 60), font=font)
    draw.rectangle((left, top, right, bottom), outline=(60, 60, 60))
    draw.text((left, height - 14), "layer (1 = next to the input)      y: |dL/dW| of the layer, log scale",
              fill=(60, 60, 60), font=font)
    draw.text((left, 5), title, fill=(0, 0, 0), font=font)
    x = right - 64 * len(twins)
    for twin in twins:
        colour, kind = STYLE.get(twin, STYLE["scratch"])
        _marker(draw, x, 12, colour, kind)
        draw.text((x + 8, 5), twin, fill=(0, 0, 0), font=font)
        x += 64
    palette_image = image.quantize(colors=256 - len(twins) - 1, method=Image.Quantize.MEDIANCUT)
    palette = palette_image.getpalette()[: 3 * 256]
    palette += [0] * (3 * 256 - len(palette))
    ink = {}
    for i, twin in enumerate(twins):
        ink[twin] = 255 - i
        palette[3 * ink[twin]: 3 * ink[twin] + 3] = STYLE.get(twin, STYLE["scratch"])[0]
    palette_image.putpalette(palette)
    return palette_image, ink


__all__ = ["PROFILE_TAG", "SIZE", "STYLE", "norm_range", "depth_profile_image", "profile_png", "write_depth_profiles"]
