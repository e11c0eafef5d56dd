"""How the networks see a face: layer table, feature maps, saliency and degradation curves.

All functions take uint8 RGB face crops of shape (H, W, 3) (any size; resized to 256x256 the
way the networks were trained) and a `Classifier` from `mesonet.models.scoring`.

A saliency map shows the evidence for one class, its `target`: "fake" maps the gradient of P(fake),
"real" the gradient of P(real) (the network's own output). Explain a verdict with the class it gave
(`saliency_target`). A map can be empty (`is_empty`): no region raises the target's probability.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageFilter

from mesonet.faces.align import INPUT_SIZE
from mesonet.models.networks import build_model, check_architecture, import_keras
from mesonet.models.scoring import Classifier, preprocess_faces
from mesonet.verdict import DEFAULT_THRESHOLD, called_fake, p_fake_of

Degradation = Literal["jpeg", "blur", "downscale", "noise"]
Evidence = Literal["fake", "real"]


@dataclass(frozen=True)
class LayerRow:
    """One layer of a network, as the architecture explorer shows it."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    trainable_params: int
    non_trainable_params: int


def layer_table(arch: str) -> list[LayerRow]:
    """Every layer of the published network with its output shape (batch left out) and parameters."""
    model = build_model(check_architecture(arch))
    rows = []
    for layer in model.layers:
        trainable = int(sum(np.prod(w.shape) for w in layer.trainable_weights))
        frozen = int(sum(np.prod(w.shape) for w in layer.non_trainable_weights))
        shape = tuple(layer.output.shape[1:])
        rows.append(LayerRow(layer.name, type(layer).__name__, shape, trainable, frozen))
    return rows


def layer_blocks(arch: str) -> dict[str, list[LayerRow]]:
    """The layers grouped as the paper draws them, in order: "input", "block1" ... "block4", "head"."""
    blocks: dict[str, list[LayerRow]] = {}
    for row in layer_table(arch):
        block = row.name.split("_")[0] if row.name.startswith("block") else ("input" if row.name == "face" else "head")
        blocks.setdefault(block, []).append(row)
    return blocks


def feature_layers(classifier: Classifier) -> list[str]:
    """The layers whose activations are worth showing: each convolution or inception block's output."""
    names = [layer.name for layer in classifier.model.layers]
    return [n for n in names if n.endswith("_conv") or n.endswith("_concat")]


@functools.lru_cache(maxsize=16)
def _feature_model(classifier: Classifier):
    keras = import_keras()
    model = classifier.model
    outputs = [model.get_layer(name).output for name in feature_layers(classifier)]
    return keras.Model(model.input, outputs + [model.output])


def activations(classifier: Classifier, crop: np.ndarray) -> dict[str, np.ndarray]:
    """Activations of each feature layer for one crop: name -> float32 (H, W, channels)."""
    outputs = _feature_model(classifier)(preprocess_faces([crop]), training=False)
    return {name: np.asarray(out[0]) for name, out in zip(feature_layers(classifier), outputs[:-1])}


def most_active_channel(activation: np.ndarray) -> int:
    """The channel of one activation (H, W, C) with the largest mean absolute response."""
    return int(np.abs(activation).reshape(-1, activation.shape[-1]).mean(axis=0).argmax())


def silent_channels(activation: np.ndarray) -> dict[int, str]:
    """The channels of one activation (H, W, C) that show nothing for this face.

    Returns:
        channel -> why, "all zeros" (a ReLU that never fires) or "constant" (one value everywhere).
    """
    flat = activation.reshape(-1, activation.shape[-1])
    low, high = flat.min(axis=0), flat.max(axis=0)
    return {int(c): "all zeros" if high[c] == 0 and low[c] == 0 else "constant" for c in np.flatnonzero(high <= low)}


def feature_grid(
    activation: np.ndarray, *, columns: int = 4, cell: int = 96, gap: int = 2, labels: bool = False
) -> np.ndarray:
    """Tiles the channels of one activation (H, W, C) into a uint8 greyscale grid image.

    Each channel is scaled to its own [min, max], so weak and strong channels are both visible.
    With `labels`, each tile shows its channel number, and silent channels say "silent" (a black
    tile alone could be read as a dark but working channel).
    """
    from PIL import ImageDraw, ImageFont

    channels = activation.shape[-1]
    rows = -(-channels // columns)
    grid = np.full((rows * (cell + gap) - gap, columns * (cell + gap) - gap), 255, dtype=np.uint8)
    silent = silent_channels(activation)
    for c in range(channels):
        channel = activation[..., c]
        low, high = float(channel.min()), float(channel.max())
        scaled = np.zeros_like(channel) if high <= low else (channel - low) / (high - low)
        tile = np.asarray(Image.fromarray((scaled * 255).astype(np.uint8)).resize((cell, cell), Image.NEAREST))
        r, col = divmod(c, columns)
        grid[r * (cell + gap) : r * (cell + gap) + cell, col * (cell + gap) : col * (cell + gap) + cell] = tile
    if not labels:
        return grid
    image = Image.fromarray(grid)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(10, cell // 7))
    for c in range(channels):
        r, col = divmod(c, columns)
        x, y = col * (cell + gap) + 4, r * (cell + gap) + 2
        text = f"{c}" + (" silent" if c in silent else "")
        draw.text((x, y), text, fill=255, font=font, stroke_width=2, stroke_fill=0)
    return np.asarray(image)


def saliency_target(p_fake: float, threshold: float = DEFAULT_THRESHOLD) -> Evidence:
    """The class whose evidence explains the verdict at this threshold: "fake" when P(fake) reaches
    it, else "real". An uncertain verdict is explained by the side of the threshold it leans to."""
    return "fake" if called_fake(float(p_fake), threshold) else "real"


def is_empty(heatmap: np.ndarray) -> bool:
    """Whether a saliency map shows nothing: no pixel raises the target's probability (then the map
    is all zeros and must not be shown as an explanation)."""
    return not bool(np.any(heatmap > 0))


def _target_probability(score_real, target: Evidence):
    if target == "fake":
        return p_fake_of(score_real)
    if target == "real":
        return score_real
    raise ValueError(f"Unknown saliency target {target!r}: expected 'fake' or 'real'.")


def _normalize(heatmap: np.ndarray) -> np.ndarray:
    heatmap = np.maximum(heatmap, 0.0)
    top = float(heatmap.max())
    return (heatmap / top).astype(np.float32) if top > 0 else np.zeros_like(heatmap, dtype=np.float32)


def _resize_map(heatmap: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    return np.asarray(Image.fromarray(heatmap.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR))


def grad_cam(classifier: Classifier, crop: np.ndarray, *, target: Evidence, layer: str | None = None) -> np.ndarray:
    """Grad-CAM for P(target) on a convolutional layer (default: the last convolutional block).

    Args:
        target: "fake" maps the evidence for fake (the gradient of P(fake)), "real" the evidence
            for real (the gradient of P(real)).

    Returns:
        float32 map of shape (256, 256) in [0, 1]: where the evidence for `target` lies. All zeros
        (`is_empty`) when every weighted activation is zero or negative: Grad-CAM's ReLU keeps only
        the regions that raise P(target), and there may be none.
    """
    import tensorflow as tf

    layer = layer or feature_layers(classifier)[-1]
    names = feature_layers(classifier)
    x = tf.constant(preprocess_faces([crop]))
    with tf.GradientTape() as tape:
        outputs = _feature_model(classifier)(x, training=False)
        feature = outputs[names.index(layer)]
        probability = _target_probability(outputs[-1][:, 0], target)
    gradients = tape.gradient(probability, feature)[0]
    weights = tf.reduce_mean(gradients, axis=(0, 1))
    cam = tf.reduce_sum(feature[0] * weights, axis=-1).numpy()
    return _normalize(_resize_map(_normalize(cam)))


def integrated_gradients(classifier: Classifier, crop: np.ndarray, *, target: Evidence, steps: int = 32) -> np.ndarray:
    """Integrated gradients of P(target) from a black image to the crop, per pixel.

    Args:
        target: "fake" maps the evidence for fake (P(fake)), "real" the evidence for real (P(real)).
        steps: points on the path from black to the crop.

    Returns:
        float32 map of shape (256, 256) in [0, 1]: the attributions that push P(target) up (gradient
        times input summed over colours, negative ones set to zero), clipped at their 99th
        percentile so a few pixels do not wash out the rest. All zeros (`is_empty`) when no pixel
        pushes P(target) up.
    """
    import tensorflow as tf

    x = preprocess_faces([crop])[0]
    alphas = np.linspace(1.0 / steps, 1.0, steps, dtype=np.float32)[:, None, None, None]
    path = tf.constant(alphas * x[None])
    with tf.GradientTape() as tape:
        tape.watch(path)
        probability = _target_probability(classifier.model(path, training=False)[:, 0], target)
    gradients = tape.gradient(probability, path).numpy().mean(axis=0)
    # The positive part only: an absolute value would also paint the pixels that argue against the target.
    attribution = np.maximum((gradients * x).sum(axis=-1), 0.0)
    top = float(np.percentile(attribution, 99)) or float(attribution.max())  # under 1% of pixels may be positive
    return (
        np.clip(attribution / top, 0, 1).astype(np.float32)
        if top > 0
        else np.zeros((INPUT_SIZE, INPUT_SIZE), np.float32)
    )


def overlay(crop: np.ndarray, heatmap: np.ndarray, *, opacity: float = 0.5, colormap: str = "jet") -> np.ndarray:
    """The heatmap (values in [0, 1]) coloured and blended over the crop; uint8 (256, 256, 3)."""
    from matplotlib import colormaps

    base = preprocess_faces([crop])[0]
    colored = colormaps[colormap](_resize_map(heatmap, base.shape[0]))[..., :3]
    return np.clip((1 - opacity) * base * 255 + opacity * colored * 255, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Degradation experiments: how compression and blur erode mesoscopic evidence

DEGRADATIONS: dict[str, dict] = {
    "jpeg": {"title": "JPEG quality (100 = original)", "levels": [100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 5]},
    "blur": {"title": "Gaussian blur radius (px)", "levels": [0, 0.5, 1, 1.5, 2, 3, 4, 5]},
    "downscale": {"title": "Downscale factor (then back up)", "levels": [1, 1.5, 2, 3, 4, 6, 8]},
    "noise": {"title": "Gaussian noise sigma (grey levels)", "levels": [0, 2, 5, 10, 15, 20, 30, 40, 50]},
}


def degrade(crop: np.ndarray, kind: Degradation, level: float, *, seed: int = 0) -> np.ndarray:
    """The 256x256 crop after one degradation; the neutral level (quality 100, radius 0, factor 1,
    sigma 0) returns the crop unchanged, so every curve starts at the plain score.
    """
    face = (preprocess_faces([crop])[0] * 255.0).round().astype(np.uint8)
    if kind == "jpeg":
        if level >= 100:
            return face
        out = io.BytesIO()
        Image.fromarray(face).save(out, format="JPEG", quality=int(level))
        return np.asarray(Image.open(out).convert("RGB"))
    if kind == "blur":
        return face if level <= 0 else np.asarray(Image.fromarray(face).filter(ImageFilter.GaussianBlur(level)))
    if kind == "downscale":
        if level <= 1:
            return face
        small = max(1, round(face.shape[0] / level))
        image = Image.fromarray(face).resize((small, small), Image.BILINEAR)
        return np.asarray(image.resize(face.shape[:2][::-1], Image.BILINEAR))
    if kind == "noise":
        if level <= 0:
            return face
        noise = np.random.default_rng(seed).normal(0.0, level, face.shape)
        return np.clip(face + noise, 0, 255).astype(np.uint8)
    raise ValueError(f"Unknown degradation {kind!r}: expected one of {', '.join(DEGRADATIONS)}.")


def degradation_curve(
    classifier: Classifier, crop: np.ndarray, kind: Degradation, levels: Sequence[float] | None = None
) -> list[tuple[float, float]]:
    """P(fake) of the crop at each level of one degradation, scored in one batch.

    Returns:
        (level, P(fake)) pairs in the order of `levels` (default: DEGRADATIONS[kind]["levels"]).
    """
    if kind not in DEGRADATIONS:
        raise ValueError(f"Unknown degradation {kind!r}: expected one of {', '.join(DEGRADATIONS)}.")
    levels = list(levels if levels is not None else DEGRADATIONS[kind]["levels"])
    scores = classifier.score_real([degrade(crop, kind, level) for level in levels])
    return [(float(level), p_fake_of(float(s))) for level, s in zip(levels, scores)]


def write_explanation(
    classifier: Classifier, crop: np.ndarray, folder, *, threshold: float = DEFAULT_THRESHOLD
) -> dict:
    """Writes the crop, feature-map grids, saliency overlays and degradation curves as PNG files,
    and the curve values as JSON, into `folder`.

    The saliency overlays show the evidence for the verdict at `threshold` (`saliency_target`); an
    empty map is not written, since a blank overlay would read as an explanation.

    Returns:
        What was written: {"p_fake": float, "files": [names], "curves": {kind: [[level, p_fake], ...]},
        "saliency": {"target": "fake" or "real", "empty": [methods with no map, e.g. "gradcam"]}}.
    """
    import json
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = []

    def save(name: str, image: np.ndarray) -> None:
        Image.fromarray(image).save(folder / name)
        files.append(name)

    face = (preprocess_faces([crop])[0] * 255).round().astype(np.uint8)
    save("crop.png", face)
    for name, activation in activations(classifier, crop).items():
        save(f"features_{name}.png", feature_grid(activation))
    p_fake = p_fake_of(float(classifier.score_real([crop])[0]))
    target = saliency_target(p_fake, threshold)
    empty = []
    for method, saliency in (("gradcam", grad_cam), ("integrated_gradients", integrated_gradients)):
        heatmap = saliency(classifier, crop, target=target)
        if is_empty(heatmap):
            empty.append(method)
        else:
            save(f"saliency_{method}.png", overlay(crop, heatmap))
    curves = {kind: degradation_curve(classifier, crop, kind) for kind in DEGRADATIONS}
    for kind, points in curves.items():
        figure, axes = plt.subplots(figsize=(5, 3.2), dpi=100)
        axes.plot([x for x, _ in points], [y for _, y in points], marker="o", color="#6C3BD1")
        axes.axhline(threshold, color="#888", linestyle="--", linewidth=1)
        axes.set(
            xlabel=DEGRADATIONS[kind]["title"],
            ylabel="P(fake)",
            ylim=(-0.02, 1.02),
            title=f"{classifier.name}: P(fake) under {kind}",
        )
        if kind == "jpeg":
            axes.invert_xaxis()  # stronger compression to the right, like the other curves
        figure.tight_layout()
        figure.savefig(folder / f"degradation_{kind}.png")
        plt.close(figure)
        files.append(f"degradation_{kind}.png")
    summary = {
        "model": classifier.name,
        "p_fake": p_fake,
        "files": files,
        "curves": {kind: [[x, y] for x, y in points] for kind, points in curves.items()},
        "saliency": {"target": target, "empty": empty},
    }
    (folder / "degradation.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
