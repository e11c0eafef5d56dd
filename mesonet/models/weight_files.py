"""What a user's weight file may hold, checked before Keras reads any of it (issue 24).

Keras reads every array of a weight file into memory before it compares shapes, and builds a
`.keras` model from its config before it loads a weight: a 275 KB `.weights.h5` whose first
kernel is a compressed array of zeros of shape (3, 3, 3, 15_000_000) took 7 GB, and a 1.6 MB
`.keras` asking for Dense(3000) 7.9 GB. These checks read only HDF5 metadata and a bounded part
of a `.keras` archive, compare them with the architecture's own weights
(`mesonet.models.networks.layer_specs`, computed without TensorFlow), and refuse a file that
differs in milliseconds, with one line, before TensorFlow is even imported:

- size on disk: at most `config.max_weights_ratio()` times `reference_file_bytes`, about the
  largest file this project writes for the architecture;
- HDF5 (.h5, .weights.h5, and a .keras file's model.weights.h5): hard links only (no soft or
  external links), datasets that hold their own data (not external, not virtual) in chunks no
  larger than themselves; the model's arrays are float16, float32 or float64 with exactly the
  architecture's shapes, each as many times as the architecture has it; optimizer state
  (Keras 3's `optimizer/`, Keras 2's `optimizer_weights/`) only has shapes of trainable weights,
  at most `OPTIMIZER_SLOTS` of each, and a few scalars (iteration counts, learning rates);
- Keras 2 `.h5` files: what Keras' legacy loader reads (every dataset named by a layer's
  `weight_names`, for every layer in `layer_names`) is exactly the architecture's arrays, so that
  no array is read twice;
- `.keras` archives: config.json, metadata.json and model.weights.h5 only, none over the size
  limit; config.json's layers are the architecture's (class, filters, units, kernel and pool
  sizes, input channels, each layer called once) and its weights pass the HDF5 checks.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

from mesonet import config
from mesonet.errors import ArchitectureMismatch, WeightsError, first_line
from mesonet.models.networks import ARCHITECTURE_TITLES, LayerSpec, Variant, layer_specs, weight_specs

# Arrays of optimizer state per trainable weight: Adam keeps 2 (3 with amsgrad), SGD with momentum 1.
OPTIMIZER_SLOTS = 3
# Top-level groups of optimizer state: Keras 3 weight files, Keras 2 whole-model files.
OPTIMIZER_GROUPS = ("optimizer", "optimizer_weights")
# Scalar datasets a file may hold besides the weights: iteration counts, learning rates, loss scales.
MAX_SCALARS = 16
# Names in a Keras 2 file's layer_names or weight_names list, at most.
MAX_NAMES = 1024
# Bytes an attribute may take (Keras 2 stores a whole model's config in one: about 30 KB for a Meso network).
MAX_ATTRIBUTE_BYTES = 1024**2
# What a `.keras` archive of a Meso network holds; anything else (assets) Keras would unpack to disk.
KERAS_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")
FLOAT_ITEMSIZES = (2, 4, 8)  # float16, float32, float64


def reference_file_bytes(arch: str, *, variant: Variant | None = None) -> int:
    """About the largest weight file this project writes for `arch`, in bytes.

    Its arrays in float32, Adam's two moments for every trainable weight (training saves the
    optimizer with the weights), 2 KiB of HDF5 bookkeeping per array, and 64 KiB for a `.keras`
    file's config: 459 KB for Meso4, 516 KB for MesoInception4 (the released files take 156 KB
    and 198 KB, the project's trained Meso4 file 408 KB).
    """
    weights = weight_specs(arch, variant=variant)
    values = sum(math.prod(w.shape) * (3 if w.trainable else 1) for w in weights)
    return 4 * values + 2048 * len(weights) + 65536


def max_file_bytes(arch: str, *, variant: Variant | None = None) -> int:
    """The largest weight file accepted for `arch`: `config.max_weights_ratio()` x `reference_file_bytes`."""
    return int(config.max_weights_ratio() * reference_file_bytes(arch, variant=variant))


def check_weight_file(path: str | Path, arch: str, *, variant: Variant | None = None) -> None:
    """Refuses a weight file that does not hold `arch`'s weights, before Keras reads any of it.

    Reads HDF5 metadata only (and, for a `.keras` archive, its config and weights members up to
    the size limit); imports neither TensorFlow nor Keras.

    Args:
        path: a `.h5` (Keras 2 layout, read by Keras' legacy loader), `.weights.h5` (Keras 3
            layout) or `.keras` file that exists.
        arch: "meso4" or "mesoinception4".
        variant: the head the file is expected to hold; None for the published one.

    Raises:
        WeightsError: one line naming the file, what is wrong, and what `arch` expects.
    """
    path = Path(path)
    title = ARCHITECTURE_TITLES[arch]
    size = path.stat().st_size
    limit = max_file_bytes(arch, variant=variant)
    if size > limit:
        raise ArchitectureMismatch(
            f"{path.name} takes {_mb(size)}; a {title} weight file takes at most {_mb(limit)}. Is this a {title} "
            f"weight file? ({config.MAX_WEIGHTS_RATIO_ENV} sets the limit.)"
        )
    if path.name.lower().endswith(".keras"):
        _check_keras_archive(path, arch, variant, limit)
        return
    # Keras picks its loader by the name, as here: the legacy loader unless it ends in ".weights.h5".
    with _open_hdf5(path, path.name) as file:
        _check_hdf5(file, path.name, arch, variant, legacy=not path.name.endswith(".weights.h5"))


def _open_hdf5(source: Path | io.BytesIO, label: str) -> Any:
    import h5py

    try:
        return h5py.File(source, "r")
    except (OSError, ValueError) as exc:
        raise WeightsError(
            f"{label} is damaged: HDF5 cannot read it ({first_line(exc)}). Save the weights again."
        ) from None


def _check_hdf5(file: Any, label: str, arch: str, variant: Variant | None, *, legacy: bool) -> None:
    """The link, dataset, shape and optimizer checks of an open h5py.File (see the module's docstring)."""
    import h5py

    specs = weight_specs(arch, variant=variant)
    expected = Counter(w.shape for w in specs)
    trainable = Counter(w.shape for w in specs if w.trainable)
    model_arrays: list[tuple[str, tuple[int, ...]]] = []
    optimizer_arrays: Counter[tuple[int, ...]] = Counter()
    other_types: list[tuple[str, Any]] = []
    scalars = 0
    links = 0
    max_links = 16 * len(specs) + 256

    def visit(name: str, link: Any) -> str | None:
        try:
            return check(name, link)
        except Exception as exc:  # h5py raises OSError, RuntimeError, KeyError... for damaged objects
            return f"{name} cannot be read ({first_line(exc)})"

    def check(name: str, link: Any) -> str | None:
        nonlocal links, scalars
        links += 1
        if links > max_links:
            return f"it holds more than {max_links:,} HDF5 entries"
        if not isinstance(link, h5py.HardLink):
            return f"{name} is a link to another place or file"
        item = file[name]
        problem = _attributes_problem(name, item)
        if problem or not isinstance(item, h5py.Dataset):
            return problem
        problem = _dataset_problem(name, item)
        if problem:
            return problem
        if item.shape == ():
            scalars += 1
            return f"it holds more than {MAX_SCALARS} scalars" if scalars > MAX_SCALARS else None
        if item.dtype.kind != "f" or item.dtype.itemsize not in FLOAT_ITEMSIZES:
            other_types.append((name, item.dtype))
        elif name.split("/", 1)[0] in OPTIMIZER_GROUPS:
            optimizer_arrays[item.shape] += 1
        else:
            model_arrays.append((name, item.shape))
        return None

    problem = _attributes_problem("/", file) or file.visititems_links(visit)
    if problem:
        raise WeightsError(f"{label} was refused: {problem}. Save the weights again with Keras.")
    title = ARCHITECTURE_TITLES[arch]
    if other_types:
        name, dtype = other_types[0]
        raise WeightsError(
            f"{label} does not hold {title} weights: dataset {name} holds {dtype}; {title} weights are float16, "
            f"float32 or float64. Is this a {title} weight file?"
        )
    _compare_arrays(model_arrays, expected, label, arch)
    for shape, count in optimizer_arrays.items():
        if count > OPTIMIZER_SLOTS * trainable[shape]:
            raise WeightsError(
                f"{label} does not hold {title} weights: its optimizer state has {count} arrays of shape {shape}; "
                f"{title} training keeps at most {OPTIMIZER_SLOTS * trainable[shape]}. Is this a {title} weight file?"
            )
    if legacy:
        _compare_arrays(_legacy_reads(file, label, arch), expected, label, arch)


def _attributes_problem(name: str, item: Any) -> str | None:
    """Why the attributes of a group or dataset must not be read, or None.

    Keras reads some (layer and weight names, a dataset's "dtype"). Their stored size is
    bounded here; a variable-length array is refused, since its elements may all point to
    one large string of the file and be read as that many copies.
    """
    for key in item.attrs:
        info = item.attrs.get_id(key)
        count = math.prod(info.shape) if info.shape is not None else 0
        if count * info.dtype.itemsize > MAX_ATTRIBUTE_BYTES or (info.dtype.hasobject and count > 1):
            return f"attribute {str(key)[:40]!r} of {name} is not a small value"
    return None


def _dataset_problem(name: str, dataset: Any) -> str | None:
    """Why a dataset must not be read, or None: data outside the file, no shape, or chunks larger than itself."""
    if dataset.is_virtual or dataset.external:
        return f"dataset {name} takes its data from other files"
    if dataset.shape is None:
        return f"dataset {name} has no shape"
    if dataset.dtype.kind not in "fiu" or dataset.dtype.itemsize > 8:
        return f"dataset {name} holds {dataset.dtype}"
    # Reading any part of a compressed chunk decompresses all of it: a chunk larger than its
    # dataset would bring back the memory the shape check bounds.
    if dataset.chunks is not None and any(c > max(s, 1) for c, s in zip(dataset.chunks, dataset.shape)):
        return f"dataset {name} of shape {dataset.shape} is stored in chunks of {dataset.chunks}"
    return None


def _compare_arrays(
    arrays: list[tuple[str, tuple[int, ...]]], expected: Counter[tuple[int, ...]], label: str, arch: str
) -> None:
    """Refuses arrays whose shapes are not exactly the architecture's (as a multiset), naming the first that differs."""
    found = Counter(shape for _, shape in arrays)
    if found == expected:
        return
    title = ARCHITECTURE_TITLES[arch]
    extra, missing = found - expected, expected - found
    if extra:
        name, shape = next((name, shape) for name, shape in arrays if shape in extra)
        wanted = _closest(shape, missing)
        detail = (
            f"dataset {name} has shape {shape}; {title} expects {wanted}"
            if wanted is not None
            else f"dataset {name} of shape {shape} is one array more than {title} has"
        )
    else:
        shape = next(iter(missing))
        detail = f"it has {len(arrays)} of {title}'s {sum(expected.values())} arrays (none of shape {shape})"
    raise ArchitectureMismatch(
        f"{label} does not hold {title} weights: {detail}. Is this a {title} weight file? Check the architecture "
        "you picked."
    )


def _closest(shape: tuple[int, ...], candidates: Counter[tuple[int, ...]]) -> tuple[int, ...] | None:
    """The expected shape most like `shape` (same rank, most equal sides), for the message; None if none is left."""
    if not candidates:
        return None
    return max(candidates, key=lambda c: (len(c) == len(shape), sum(a == b for a, b in zip(c, shape))))


def _legacy_reads(file: Any, label: str, arch: str) -> list[tuple[str, tuple[int, ...]]]:
    """The datasets Keras' legacy HDF5 loader would read, in its order: for each layer in the
    weights group's `layer_names`, each dataset named by that layer's `weight_names`."""
    import h5py

    title = ARCHITECTURE_TITLES[arch]
    if "layer_names" in file.attrs:
        group = file
    elif "model_weights" in file:  # a Keras 2 whole-model file
        group = _resolve(file, "model_weights", label, h5py.Group)
    else:
        raise WeightsError(
            f"{label} does not hold {title} weights: it has no Keras layer list (layer_names). A file written by "
            "Keras 3's model.save_weights must be named *.weights.h5."
        )
    reads = []
    layer_names = _names(group, "layer_names", label)
    if "top_level_model_weights" in group:
        layer_names.append("top_level_model_weights")
    for layer_name in layer_names:
        layer_group = _resolve(group, layer_name, label, h5py.Group)
        for weight_name in _names(layer_group, "weight_names", label):
            dataset = _resolve(layer_group, weight_name, label, h5py.Dataset)
            reads.append((dataset.name.lstrip("/"), dataset.shape))
    return reads


def _names(group: Any, attribute: str, label: str) -> list[str]:
    """A list-of-names attribute as Keras reads it, refused unless it is a short array of byte strings."""
    if attribute not in group.attrs:
        if f"{attribute}0" in group.attrs:  # Keras' chunked form, for lists too long for one attribute
            raise WeightsError(f"{label} was refused: its {attribute} list is longer than a Meso network's.")
        return []
    info = group.attrs.get_id(attribute)
    shape = info.shape
    if shape == (0,):  # Keras 2 writes a layer without weights an empty list, of floats
        return []
    if info.dtype.kind != "S" or info.dtype.itemsize > 1024 or shape is None or len(shape) != 1 or shape[0] > MAX_NAMES:
        raise WeightsError(f"{label} was refused: its {attribute} attribute is not a short list of names.")
    return [name.decode("utf-8", "replace") for name in group.attrs[attribute]]


def _resolve(group: Any, path: str, label: str, kind: type) -> Any:
    """`group[path]` as Keras' safe getters resolve it (relative, part by part; the walk already refused
    links other than hard links), refused unless it is a `kind` (h5py.Group or h5py.Dataset)."""
    import h5py

    item = group
    for part in path.split("/"):
        if not isinstance(item, h5py.Group) or not part or part not in item:
            raise WeightsError(f"{label} was refused: it names {path[:80]!r}, which it does not hold.")
        item = item[part]
    if not isinstance(item, kind):
        raise WeightsError(f"{label} was refused: {path[:80]!r} is not a {kind.__name__.lower()}.")
    return item


def _check_keras_archive(path: Path, arch: str, variant: Variant | None, limit: int) -> None:
    title = ARCHITECTURE_TITLES[arch]
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = [member.filename for member in members]
            unexpected = [name for name in names if name not in KERAS_MEMBERS]
            if unexpected or len(set(names)) < len(names):
                what = repr(unexpected[0]) if unexpected else "a file twice"
                raise WeightsError(
                    f"{path.name} holds {what} besides a Keras model; a {title} .keras file holds only "
                    f"{', '.join(KERAS_MEMBERS)}. Save the model again with model.save."
                )
            missing = [name for name in ("config.json", "model.weights.h5") if name not in names]
            if missing:
                raise WeightsError(
                    f"{path.name} is not a whole Keras model: it lacks {missing[0]}. Save it with model.save."
                )
            for member in members:
                if member.flag_bits & 0x1:
                    raise WeightsError(f"{path.name} is encrypted. Save the model again with model.save.")
                if member.file_size > limit:
                    raise WeightsError(
                        f"{path.name}'s {member.filename} unpacks to {_mb(member.file_size)}; a {title} model's takes "
                        f"at most {_mb(limit)}. Is this a {title} model?"
                    )
            config_bytes = _read_member(archive, "config.json", limit, path.name)
            weights_bytes = _read_member(archive, "model.weights.h5", limit, path.name)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
        RuntimeError,
        ValueError,
        OSError,
    ) as exc:
        raise WeightsError(
            f"{path.name} is a damaged Keras archive ({first_line(exc)}). Save the model again."
        ) from None
    try:
        model_config = json.loads(config_bytes)
    except (ValueError, RecursionError):
        model_config = None
    _check_keras_config(model_config, path.name, arch, variant)
    label = f"{path.name} (its model.weights.h5)"
    with _open_hdf5(io.BytesIO(weights_bytes), label) as file:
        _check_hdf5(file, label, arch, variant, legacy=False)


def _read_member(archive: zipfile.ZipFile, name: str, limit: int, label: str) -> bytes:
    """A member's bytes, never more than `limit` of them (its declared size may lie)."""
    with archive.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise WeightsError(f"{label}'s {name} unpacks to more than {_mb(limit)}. Save the model again with model.save.")
    return data


def _check_keras_config(model_config: Any, label: str, arch: str, variant: Variant | None) -> None:
    """Refuses a model config whose layers are not `arch`'s: compared as a multiset, since Keras
    lists parallel branches in its own order."""
    title = ARCHITECTURE_TITLES[arch]
    body = model_config.get("config") if isinstance(model_config, dict) else None
    layers = body.get("layers") if isinstance(body, dict) else None
    if (
        not isinstance(model_config, dict)
        or model_config.get("class_name") not in ("Functional", "Sequential")
        or not (isinstance(layers, list) and all(isinstance(layer, dict) for layer in layers))
    ):
        raise WeightsError(
            f"{label} is not a {title} model: its config.json does not describe a Keras model. Save it with model.save."
        )
    specs = layer_specs(arch, variant=variant)
    keys = {spec.class_name: tuple(key for key, _ in spec.settings) for spec in specs}
    weighted = {spec.class_name for spec in specs if spec.weights}
    found = []
    for layer in layers:
        name = str(layer.get("name", "?"))[:60]
        if layer.get("class_name") == "Lambda":
            raise WeightsError(
                f"{label} carries Python code (a Lambda layer); it was refused for safety. Export the {title} "
                "model without Lambda layers."
            )
        nodes = layer.get("inbound_nodes") or []
        if not isinstance(nodes, list) or len(nodes) > 1:
            raise ArchitectureMismatch(
                f"{label} is not a {title} model: its layer {name!r} is called {len(nodes)} times, and every {title} "
                "layer once. Check the architecture you picked."
            )
        found.append((name, _config_signature(layer, keys, weighted)))
    reference = Counter(_spec_signature(spec) for spec in specs)
    counts = Counter(signature for _, signature in found)
    if counts == reference:
        return
    extra = counts - reference
    if extra:
        name, signature = next((name, signature) for name, signature in found if signature in extra)
        detail = f"its layer {name!r} is {_describe(signature)}, which {title} does not have"
    else:
        detail = f"it has no {_describe(next(iter(reference - counts)))} layer"
    raise ArchitectureMismatch(f"{label} is not a {title} model: {detail}. Check the architecture you picked.")


def _spec_signature(spec: LayerSpec) -> tuple:
    return (spec.class_name, spec.settings, spec.input_channels)


def _config_signature(layer: dict, keys: dict[str, tuple[str, ...]], weighted: set[str]) -> tuple:
    """A config layer as (class, settings, input channels), the form of `_spec_signature`."""
    class_name = str(layer.get("class_name"))[:60]
    settings = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    values = tuple((key, _plain(settings.get(key))) for key in keys.get(class_name, ()))
    channels = None
    if class_name in weighted:
        build = layer.get("build_config")
        shape = build.get("input_shape") if isinstance(build, dict) else None
        channels = shape[-1] if isinstance(shape, list) and shape and isinstance(shape[-1], int) else "unknown"
    return (class_name, values, channels)


def _plain(value: Any) -> Any:
    """JSON lists as tuples (hashable, and equal to the specs' tuples); long values cut for messages."""
    if isinstance(value, list):
        return tuple(_plain(item) for item in value[:8])
    return value if isinstance(value, int | float | bool | type(None)) else str(value)[:60]


def _describe(signature: tuple) -> str:
    class_name, values, channels = signature
    parts = [f"{key}={value}" for key, value in values]
    if channels is not None:
        parts.append(f"{channels} input channels")
    return f"{class_name}({', '.join(parts)})"


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} KB"
