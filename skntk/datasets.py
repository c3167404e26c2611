"""Loaders for image data sets stored locally (nothing is downloaded)."""

import os
import pickle

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_cifar10", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST_FILES = ("test_batch",)
_SUBSETS = {"train": _TRAIN_FILES, "test": _TEST_FILES, "all": _TRAIN_FILES + _TEST_FILES}
_HEIGHT, _WIDTH, _CHANNELS = 32, 32, 3
_N_FEATURES = _HEIGHT * _WIDTH * _CHANNELS

_DESCR = """\
CIFAR-10 (python version)
-------------------------

60,000 colour images of 32 x 32 pixels in 10 classes (airplane, automobile, bird, cat, deer,
dog, frog, horse, ship, truck), 6,000 per class: 50,000 training images in five batches
(``data_batch_1`` .. ``data_batch_5``) and 10,000 test images (``test_batch``).

Loaded by :func:`skntk.datasets.load_cifar10` from a local copy of ``cifar-10-python.tar.gz``
(https://www.cs.toronto.edu/~kriz/cifar.html). Each stored batch holds ``b"data"``, an
``(N, 3072)`` uint8 array with the red, green and blue planes (1024 values each, row-major
32 x 32) of every image one after the other, and ``b"labels"``, N integers in 0..9. The loader
returns images in NHWC layout ``(N, 32, 32, 3)`` (or its row-major flattening ``(N, 3072)``)
with pixel values scaled to [0, 1]; with ``subset="all"`` the training images come first.

Reference: Alex Krizhevsky, "Learning Multiple Layers of Features from Tiny Images",
technical report, University of Toronto, 2009.
"""


def _find_batch_dir(path, filenames):
    """Return the directory holding ``filenames``: ``path`` or ``path/cifar-10-batches-py``."""
    path = os.fspath(os.path.expanduser(os.fspath(path)))
    candidates = [path, os.path.join(path, "cifar-10-batches-py")]
    for directory in candidates:
        if all(os.path.isfile(os.path.join(directory, f)) for f in filenames):
            return directory
    missing = [f for f in filenames if not os.path.isfile(os.path.join(candidates[0], f))]
    raise FileNotFoundError(
        f"CIFAR-10 python batches not found under {path!r}: expected the files "
        f"{', '.join(filenames)} in that directory or in its 'cifar-10-batches-py' "
        f"subdirectory (missing from {path!r}: {', '.join(missing)}). skntk does not download "
        "data: fetch cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
        "and extract it, then pass the extracted directory or its parent."
    )


# What a CIFAR-10 python batch may reference: NumPy arrays, their dtypes and scalars (under
# the module names of NumPy 1 and 2), and ``_codecs.encode`` and ``bytes``, which protocol-2
# pickles written by Python 3 use for (empty) bytes. Anything else is refused before it is
# imported or called, so a foreign pickle cannot run code while it is being recognised as
# foreign.
_ALLOWED_GLOBALS = frozenset(
    [
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
        ("__builtin__", "bytes"),
        ("builtins", "bytes"),
    ]
    + [
        (module, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    ]
    + [(module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")]
)

_EXPECTED = (
    "expected one of the python-version CIFAR-10 batches (data_batch_1 .. data_batch_5, "
    "test_batch from cifar-10-python.tar.gz, https://www.cs.toronto.edu/~kriz/cifar.html): "
    f"a pickled dict with b'data', an (N, {_N_FEATURES}) uint8 array, and b'labels', N "
    "integers in 0..9"
)


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the globals a CIFAR-10 batch needs."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"it refers to {module}.{name}, which a CIFAR-10 batch never holds"
            )
        return super().find_class(module, name)


def _load_pickle(filename):
    """Unpickle ``filename``; any decoding failure becomes a ValueError naming the file."""
    if os.path.getsize(filename) == 0:
        raise ValueError(f"{filename!r} is empty (0 bytes); {_EXPECTED}. Extract it again.")
    with open(filename, "rb") as f:
        try:
            return _BatchUnpickler(f, encoding="bytes").load()
        except OSError:
            raise  # the file could not be read: not a question of its format
        except Exception as exc:
            # Truncated files end in EOFError or UnpicklingError, text or other binary files
            # in UnpicklingError, and foreign pickles in whatever their objects raise.
            raise ValueError(
                f"{filename!r} could not be decoded as a CIFAR-10 batch "
                f"({type(exc).__name__}: {exc}); {_EXPECTED}. A truncated or corrupted file "
                "should be extracted again from the archive."
            ) from exc


def _read_batch(filename):
    """Read one pickled CIFAR-10 batch; return ``(data (N, 3072) uint8, labels (N,) int64)``.

    Checks what the loader relies on: a dict with ``data`` (a 2-D array of integer pixel
    values in 0..255 with 3072 values per image) and ``labels`` (one integer in 0..9 per
    image), so that the loaded images lie in [0, 1] and every label names a class.
    """
    batch = _load_pickle(filename)
    if not isinstance(batch, dict):
        raise ValueError(
            f"{filename!r} holds a pickled {type(batch).__name__}, not a CIFAR-10 batch; "
            f"{_EXPECTED}."
        )
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        keys = ", ".join(repr(k) for k in list(batch)[:10])
        raise ValueError(
            f"{filename!r} is not a CIFAR-10 batch: no 'data' or 'labels' entry (its keys: "
            f"{keys or 'none'}); {_EXPECTED}."
        )
    try:
        data = np.asarray(data)
    except Exception as exc:  # ragged or otherwise not array-like
        raise ValueError(f"{filename!r}: 'data' is not an array ({exc}); {_EXPECTED}.") from exc
    if data.dtype.kind not in "ui":
        raise ValueError(
            f"{filename!r}: 'data' has dtype {data.dtype}; expected uint8 pixel values in "
            "0..255 (the raw python-version batch, not converted or rescaled data)."
        )
    if data.ndim != 2 or data.shape[1] != _N_FEATURES:
        raise ValueError(
            f"{filename!r}: expected 'data' of shape (N, {_N_FEATURES}) ({_CHANNELS} planes "
            f"of {_HEIGHT} x {_WIDTH} values per image), got {data.shape}."
        )
    if data.shape[0] == 0:
        raise ValueError(f"{filename!r} holds no images; {_EXPECTED}.")
    lo, hi = (0, 255) if data.dtype == np.uint8 else (int(data.min()), int(data.max()))
    if lo < 0 or hi > 255:
        raise ValueError(
            f"{filename!r}: 'data' holds values in {lo}..{hi}; expected uint8 pixel values "
            "in 0..255."
        )
    data = data.astype(np.uint8, copy=False)
    try:
        labels = np.asarray(labels)
    except Exception as exc:  # ragged or otherwise not array-like
        raise ValueError(f"{filename!r}: 'labels' is not a list of integers ({exc}).") from exc
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        n_labels = labels.shape[0] if labels.ndim else 1
        raise ValueError(
            f"{filename!r}: {n_labels} labels (shape {labels.shape}) for {data.shape[0]} "
            "images; expected one integer label per image."
        )
    if labels.dtype.kind not in "ui":
        raise ValueError(
            f"{filename!r}: labels have dtype {labels.dtype}; expected integers in 0..9."
        )
    if labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES):
        raise ValueError(
            f"{filename!r}: labels in {labels.min()}..{labels.max()}; expected integers in "
            f"0..{len(CIFAR10_CLASSES) - 1}."
        )
    return data, labels.astype(np.int64)


def load_cifar10(path, *, subset="train", dtype=np.float32, flatten=False, return_X_y=False):
    """Load CIFAR-10 from a local copy of its python batches (no download).

    Parameters
    ----------
    path : str or path-like
        The extracted ``cifar-10-batches-py`` directory (holding ``data_batch_1`` ..
        ``data_batch_5`` and ``test_batch``), or its parent directory.
    subset : {"train", "test", "all"}, default="train"
        Which images: the 50,000 training images, the 10,000 test images, or all 60,000
        (training images first, then test images).
    dtype : floating dtype, default=np.float32
        Dtype of the returned images.
    flatten : bool, default=False
        If False, images have shape ``(n, 32, 32, 3)`` (NHWC). If True, shape ``(n, 3072)``,
        the row-major flattening of each ``(32, 32, 3)`` image (the layout skntk's image
        estimators expect for 2-D input), so that column ``(h * 32 + w) * 3 + c`` holds pixel
        ``(h, w)`` of channel ``c``.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With attributes ``data`` (the images, values in [0, 1], pixel value ``v`` stored as
        ``v / 255`` in ``dtype``), ``target`` (int64 labels in 0..9), ``target_names`` (the
        10 class names, indexed by label) and ``DESCR``.
    (data, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        If the batch files of ``subset`` are not in ``path`` nor in
        ``path/cifar-10-batches-py``.
    ValueError
        For an unknown ``subset``, a non-floating ``dtype``, or a batch file that is not a
        python-version CIFAR-10 batch: empty, truncated or not a pickle (the message names
        the file and the decoding error), a pickle of something else, ``data`` that is not
        integer pixel values in 0..255 with 3072 values per image, or labels that are not
        one integer in 0..9 per image.
    TypeError
        If ``path`` is not a string or path-like, or ``flatten`` / ``return_X_y`` is not a
        bool.

    Notes
    -----
    The batches are Python pickles. They are read with an unpickler that only resolves the
    NumPy names a batch needs, so a foreign pickle is rejected before any of its code runs;
    still, only load files from a trusted source.

    Examples
    --------
    >>> from skntk.datasets import load_cifar10
    >>> X, y = load_cifar10("~/data/cifar-10-batches-py", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype, y.shape  # doctest: +SKIP
    ((50000, 32, 32, 3), dtype('float32'), (50000,))
    """
    if not isinstance(path, str | bytes | os.PathLike):
        raise TypeError(
            "path must be a str or path-like pointing at the extracted cifar-10-batches-py "
            f"directory (or its parent), got {type(path).__name__}."
        )
    path = os.fsdecode(path)
    for name, value in (("flatten", flatten), ("return_X_y", return_X_y)):
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"{name} must be True or False, got {value!r}.")
    if not isinstance(subset, str) or subset not in _SUBSETS:
        raise ValueError(f"subset must be one of {sorted(_SUBSETS)}, got {subset!r}.")
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a floating dtype, got {dtype}.")
    filenames = _SUBSETS[subset]
    directory = _find_batch_dir(path, filenames)

    batches = [_read_batch(os.path.join(directory, f)) for f in filenames]
    n_total = sum(data.shape[0] for data, _ in batches)
    images = np.empty((n_total, _HEIGHT, _WIDTH, _CHANNELS), dtype=dtype)
    start = 0
    for data, _ in batches:
        stop = start + data.shape[0]
        # Stored channel-major (N, C, H, W); NHWC is a transpose of that.
        images[start:stop] = data.reshape(-1, _CHANNELS, _HEIGHT, _WIDTH).transpose(0, 2, 3, 1)
        start = stop
    images /= dtype.type(255)
    target = np.concatenate([labels for _, labels in batches])
    if flatten:
        images = images.reshape(n_total, _N_FEATURES)

    if return_X_y:
        return images, target
    return Bunch(
        data=images,
        target=target,
        target_names=np.array(CIFAR10_CLASSES),
        DESCR=_DESCR,
    )
