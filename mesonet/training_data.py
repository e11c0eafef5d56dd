"""The training input pipeline: labelled image files streamed through tf.data, with augmentation.

Files are decoded as needed (paths -> decode -> nearest resize to 256 -> /255 -> augment), so a
dataset of any size trains in constant memory. Two augmentations:

- the paper's: horizontal flip, brightness, hue, rotation up to 15 degrees and zoom of 20%;
- `robust` (for compressed web video, added on top): JPEG re-encoding at quality 15-95,
  downscale and upscale, blur and noise, and a wider zoom and shift so that both tight
  face-detector boxes and the pipeline's aligned crops with margin look familiar.

Balanced sampling draws every source equally, and within a source the real and forged
classes equally, and within the forged class every manipulation equally. A file's source is
the first sub-folder of its class folder (e.g. `deepfakes/ffpp/x.jpg` is from "ffpp"), so one
dataset can mix differently framed or compressed collections without the network learning
"this framing means fake".

TensorFlow decodes without Pillow's limits, so files over the pixel budget
(`mesonet.config.max_pixels`) are left out from their header before they reach tf.data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mesonet.datasets import LABEL_FORGED, LABEL_REAL, LabeledFile
from mesonet.media import fits_pixel_budget
from mesonet.models import INPUT_SIZE, import_keras

JPEG_QUALITY = (15, 95)
DOWNSCALE = (0.35, 1.0)  # side factor before upscaling back to 256
BLUR_SIGMA = (0.3, 1.5)
NOISE_STD = (0.0, 0.03)


def source_of(file: LabeledFile) -> str:
    """The collection a file comes from: the first sub-folder of its class folder ("" if none)."""
    parts = file.path.parts
    try:
        index = len(parts) - 1 - parts[::-1].index(file.class_folder)
    except ValueError:
        return ""
    return parts[index + 1] if index + 2 < len(parts) else ""


def stratum_weights(files: Sequence[LabeledFile]) -> dict[tuple[str, int, str], float]:
    """Sampling weight of each (source, label, class folder): sources equal, then classes, then methods."""
    strata: dict[str, dict[int, set[str]]] = {}
    for f in files:
        strata.setdefault(source_of(f), {}).setdefault(f.label, set()).add(f.class_folder.lower())
    weights = {}
    for source, classes in strata.items():
        for label, methods in classes.items():
            for method in methods:
                weights[(source, label, method)] = 1.0 / len(strata) / len(classes) / len(methods)
    return weights


def make_dataset(
    files: Sequence[LabeledFile],
    *,
    batch_size: int,
    training: bool,
    augment: bool = True,
    robust: bool = False,
    balance: bool = False,
    seed: int = 0,
):
    """A tf.data pipeline of (faces, labels) batches read from disk as needed.

    Args:
        files: labelled image files.
        batch_size: images per batch.
        training: shuffle, repeat forever and (with `augment`) augment; else one ordered pass.
        augment: apply the paper's augmentation (training only).
        robust: also apply the compression and framing augmentation (training only).
        balance: draw sources, classes and manipulations equally (training only; see the
            module docstring) instead of in proportion to their file counts.
        seed: shuffle and augmentation seed.

    Returns:
        tf.data.Dataset of float32 faces (B, 256, 256, 3) in [0, 1] and float32 labels (B, 1),
        1 = real. Files that fail to decode, or are over the pixel budget, are dropped with a warning.
    """
    import_keras()
    import tensorflow as tf

    too_large = [f for f in files if not fits_pixel_budget(f.path)]
    if too_large:
        logging.getLogger(__name__).warning(
            "%d file(s) over the pixel budget left out, e.g. %s", len(too_large), too_large[0].path
        )
        excluded = set(too_large)
        files = [f for f in files if f not in excluded]

    def paths_and_labels(members: Sequence[LabeledFile]):
        ds = tf.data.Dataset.from_tensor_slices(([str(f.path) for f in members], [[float(f.label)] for f in members]))
        # Only the paths are shuffled in memory; images are decoded after, a batch at a time.
        return ds.shuffle(len(members), seed=seed, reshuffle_each_iteration=True).repeat() if training else ds

    if training and balance:
        weights = stratum_weights(files)
        keys = sorted(weights)
        groups = [[f for f in files if (source_of(f), f.label, f.class_folder.lower()) == key] for key in keys]
        ds = tf.data.Dataset.sample_from_datasets(
            [paths_and_labels(g) for g in groups], weights=[weights[k] for k in keys], seed=seed
        )
    else:
        ds = paths_and_labels(files)
    ds = ds.map(_decode_and_resize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
    ds = ds.ignore_errors(log_warning=True)
    if training and robust:
        ds = ds.map(_degrade, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    if training and augment:
        ds = ds.map(_augment_colours, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    ds = ds.batch(batch_size, drop_remainder=training)
    if training and augment:
        geometric = _geometric_augmentation(seed, wide=robust)
        ds = ds.map(
            lambda x, y: (geometric(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=False
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def _decode_and_resize(path, label):
    import tensorflow as tf

    data = tf.io.read_file(path)
    # INTEGER_ACCURATE is the DCT Pillow uses: training sees the pixels that scoring sees.
    image = tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
    )
    image = tf.image.resize(image, (INPUT_SIZE, INPUT_SIZE), method="nearest")  # the authors' resize
    image = tf.cast(image, tf.float32) / 255.0
    image.set_shape((INPUT_SIZE, INPUT_SIZE, 3))
    return image, label


def _maybe(probability: float, transform, image):
    import tensorflow as tf

    return tf.cond(tf.random.uniform(()) < probability, lambda: transform(image), lambda: image)


def _degrade(image, label):
    """Compression, resolution and sensor damage, each with its own probability."""
    import tensorflow as tf

    def downscale(x):
        side = tf.cast(tf.random.uniform((), *DOWNSCALE) * INPUT_SIZE, tf.int32)
        small = tf.image.resize(x, (side, side), method="area")
        return tf.image.resize(small, (INPUT_SIZE, INPUT_SIZE), method="bilinear")

    def blur(x):
        sigma = tf.random.uniform((), *BLUR_SIGMA)
        taps = tf.range(-3, 4, dtype=tf.float32)
        kernel = tf.exp(-(taps**2) / (2 * sigma**2))
        kernel /= tf.reduce_sum(kernel)
        x = x[tf.newaxis]
        horizontal = tf.tile(tf.reshape(kernel, (1, 7, 1, 1)), (1, 1, 3, 1))
        x = tf.nn.depthwise_conv2d(x, horizontal, (1, 1, 1, 1), "SAME")
        x = tf.nn.depthwise_conv2d(x, tf.transpose(horizontal, (1, 0, 2, 3)), (1, 1, 1, 1), "SAME")
        return x[0]

    def noise(x):
        return x + tf.random.normal(tf.shape(x), stddev=tf.random.uniform((), *NOISE_STD))

    def jpeg(x):
        quality = tf.random.uniform((), JPEG_QUALITY[0], JPEG_QUALITY[1] + 1, dtype=tf.int32)
        return tf.image.adjust_jpeg_quality(tf.clip_by_value(x, 0.0, 1.0), quality)

    image = _maybe(0.35, downscale, image)
    image = _maybe(0.2, blur, image)
    image = _maybe(0.2, noise, image)
    image = _maybe(0.6, jpeg, image)  # last: compression comes after capture
    image = tf.clip_by_value(image, 0.0, 1.0)
    image.set_shape((INPUT_SIZE, INPUT_SIZE, 3))
    return image, label


def _augment_colours(image, label):
    import tensorflow as tf

    image = tf.image.random_flip_left_right(image)
    image = image * tf.random.uniform((), 0.8, 1.2)  # brightness, as a gain like Keras' brightness_range
    image = tf.image.random_hue(image, 0.05)
    return tf.clip_by_value(image, 0.0, 1.0), label


def _geometric_augmentation(seed: int, *, wide: bool = False):
    keras = import_keras()
    layers = [
        keras.layers.RandomRotation(15 / 360, fill_mode="reflect", seed=seed),  # +-15 degrees
        # Keras: a positive factor zooms out. Wide: tight boxes and crops with margin alike.
        keras.layers.RandomZoom((-0.25, 0.35) if wide else (-0.2, 0.2), fill_mode="reflect", seed=seed + 1),
    ]
    if wide:
        layers.append(keras.layers.RandomTranslation(0.08, 0.08, fill_mode="reflect", seed=seed + 2))
    return keras.Sequential(layers, name="augmentation")


def dataset_metrics(model, files: Sequence[LabeledFile], *, batch_size: int = 75) -> dict:
    """Frame accuracy of a model on labelled image files, through the training input pipeline.

    Used to report a model's accuracy on a validation split before fine-tuning it.

    Returns:
        {"accuracy", "accuracy_forged", "accuracy_real", "n"}: a face counts as real when
        score_real > 0.5.
    """
    correct = {LABEL_FORGED: 0, LABEL_REAL: 0}
    total = {LABEL_FORGED: 0, LABEL_REAL: 0}
    for faces, labels in make_dataset(files, batch_size=batch_size, training=False):
        predicted = model(faces, training=False).numpy().reshape(-1) > 0.5
        truth = labels.numpy().reshape(-1)
        for label in (LABEL_FORGED, LABEL_REAL):
            in_class = truth == label
            total[label] += int(in_class.sum())
            correct[label] += int((predicted[in_class] == bool(label)).sum())
    n = sum(total.values())
    return {
        "accuracy": sum(correct.values()) / n if n else float("nan"),
        "accuracy_forged": correct[LABEL_FORGED] / total[LABEL_FORGED] if total[LABEL_FORGED] else float("nan"),
        "accuracy_real": correct[LABEL_REAL] / total[LABEL_REAL] if total[LABEL_REAL] else float("nan"),
        "n": n,
    }
