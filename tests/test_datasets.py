"""Tests for skntk.datasets: CIFAR-10 loader on synthetic files in the exact pickle format."""

import pickle

import numpy as np
import pytest
from sklearn.utils import Bunch

from skntk.datasets import CIFAR10_CLASSES, load_cifar10

TRAIN_SIZES = (3, 2, 4, 1, 2)  # images per data_batch_1..5 (real files hold 10,000 each)
TEST_SIZE = 3


def _write_batch(path, data, labels, name):
    # Same layout as the files of cifar-10-python.tar.gz: a pickled dict with bytes keys.
    batch = {
        b"batch_label": name.encode(),
        b"labels": [int(v) for v in labels],
        b"data": data,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


@pytest.fixture
def cifar_dir(tmp_path):
    """A fake ``cifar-10-batches-py`` directory; returns (parent, raw train, raw test)."""
    rng = np.random.RandomState(0)
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    raw = {}
    for i, n in enumerate(TRAIN_SIZES, start=1):
        data = rng.randint(0, 256, size=(n, 3072)).astype(np.uint8)
        labels = rng.randint(0, 10, size=n)
        _write_batch(root / f"data_batch_{i}", data, labels, f"training batch {i} of 5")
        raw[f"data_batch_{i}"] = (data, labels)
    data = rng.randint(0, 256, size=(TEST_SIZE, 3072)).astype(np.uint8)
    labels = rng.randint(0, 10, size=TEST_SIZE)
    # A known pixel: image 1, row 5, column 7, green channel (c = 1) = 200; the stored layout
    # is channel-major, R(1024) G(1024) B(1024), each plane row-major 32 x 32.
    data[1] = 0
    data[1, 1 * 1024 + 5 * 32 + 7] = 200
    _write_batch(root / "test_batch", data, labels, "testing batch 1 of 1")
    raw["test_batch"] = (data, labels)
    batches = [raw[f"data_batch_{i}"] for i in range(1, 6)]
    train = (np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]))
    return tmp_path, train, raw["test_batch"]


def test_known_pixel_lands_in_nhwc_place(cifar_dir):
    parent, _, _ = cifar_dir
    X, y = load_cifar10(parent, subset="test", return_X_y=True)
    assert X.shape == (TEST_SIZE, 32, 32, 3)
    img = X[1]
    assert img[5, 7, 1] == np.float32(200) / np.float32(255)
    assert np.count_nonzero(img) == 1
    Xf, _ = load_cifar10(parent, subset="test", flatten=True, return_X_y=True)
    assert Xf.shape == (TEST_SIZE, 3072)
    assert np.count_nonzero(Xf[1]) == 1
    assert Xf[1, (5 * 32 + 7) * 3 + 1] == np.float32(200) / np.float32(255)


@pytest.mark.parametrize("subset", ["train", "test", "all"])
def test_values_labels_and_order(cifar_dir, subset):
    parent, (train_data, train_labels), (test_data, test_labels) = cifar_dir
    expected_raw = {
        "train": train_data,
        "test": test_data,
        "all": np.concatenate([train_data, test_data]),
    }[subset]
    expected_y = {
        "train": train_labels,
        "test": test_labels,
        "all": np.concatenate([train_labels, test_labels]),
    }[subset]
    bunch = load_cifar10(parent, subset=subset)
    assert isinstance(bunch, Bunch)
    n = expected_raw.shape[0]
    assert bunch.data.shape == (n, 32, 32, 3) and bunch.data.dtype == np.float32
    # Independent NHWC construction, pixel by pixel for two images.
    for i in (0, n - 1):
        for h, w, c in [(0, 0, 0), (31, 31, 2), (3, 17, 1), (20, 2, 0)]:
            v = expected_raw[i, c * 1024 + h * 32 + w]
            assert bunch.data[i, h, w, c] == np.float32(v) / np.float32(255)
    nhwc = expected_raw.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(bunch.data, nhwc.astype(np.float32) / np.float32(255))
    assert bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.target, expected_y)
    assert list(bunch.target_names) == list(CIFAR10_CLASSES) and len(CIFAR10_CLASSES) == 10
    assert "CIFAR-10" in bunch.DESCR
    assert 0.0 <= bunch.data.min() and bunch.data.max() <= 1.0


def test_flatten_is_row_major_hwc_and_dtype(cifar_dir):
    parent, _, _ = cifar_dir
    X4, y4 = load_cifar10(parent, return_X_y=True)
    X2, y2 = load_cifar10(parent, flatten=True, dtype=np.float64, return_X_y=True)
    assert X2.shape == (sum(TRAIN_SIZES), 3072) and X2.dtype == np.float64
    np.testing.assert_allclose(X2, X4.reshape(len(X4), -1), rtol=1e-7)
    np.testing.assert_array_equal(y2, y4)


def test_accepts_batch_dir_itself(cifar_dir):
    parent, _, _ = cifar_dir
    Xa, ya = load_cifar10(parent, subset="all", return_X_y=True)
    Xb, yb = load_cifar10(str(parent / "cifar-10-batches-py"), subset="all", return_X_y=True)
    np.testing.assert_array_equal(Xa, Xb)
    np.testing.assert_array_equal(ya, yb)


def test_missing_files(tmp_path, cifar_dir):
    with pytest.raises(FileNotFoundError, match="data_batch_1.*test_batch.*cifar-10-batches-py"):
        load_cifar10(tmp_path / "nowhere", subset="all")
    parent, _, _ = cifar_dir
    (parent / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar10(parent, subset="train")
    load_cifar10(parent, subset="test")  # the test batch alone is still there


def test_bad_arguments_and_files(cifar_dir):
    parent, _, _ = cifar_dir
    with pytest.raises(ValueError, match="subset"):
        load_cifar10(parent, subset="validation")
    with pytest.raises(ValueError, match="floating"):
        load_cifar10(parent, dtype=np.uint8)
    bad = np.zeros((2, 3000), dtype=np.uint8)
    _write_batch(parent / "cifar-10-batches-py" / "test_batch", bad, [0, 1], "bad")
    with pytest.raises(ValueError, match="3072"):
        load_cifar10(parent, subset="test")
    good = np.zeros((2, 3072), dtype=np.uint8)
    _write_batch(parent / "cifar-10-batches-py" / "test_batch", good, [0], "bad")
    with pytest.raises(ValueError, match="labels"):
        load_cifar10(parent, subset="test")


# ----------------------------------------------------------------------------------------------
# Hostile files: every malformed batch ends in a ValueError that names the file.


def _batch_bytes(data, labels):
    return pickle.dumps({b"data": data, b"labels": list(labels)}, protocol=2)


def _good_batch(n=3, seed=1):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, size=(n, 3072)).astype(np.uint8), rng.randint(0, 10, size=n)


def _replace_test_batch(parent, payload):
    path = parent / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(payload)
    return path


def test_batch_written_by_python2_numpy_loads(cifar_dir):
    # The real files were pickled by Python 2 with NumPy 1: their globals name
    # numpy.core.multiarray, not numpy._core.multiarray.
    parent, _, _ = cifar_dir
    data, labels = _good_batch()
    payload = _batch_bytes(data, labels).replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy.core.multiarray" in payload
    _replace_test_batch(parent, payload)
    X, y = load_cifar10(parent, subset="test", flatten=True, return_X_y=True)
    nhwc = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(len(data), -1)
    np.testing.assert_array_equal(X, nhwc.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize("cut", [0.5, 0.99, 10])
def test_truncated_batch(cifar_dir, cut):
    parent, _, _ = cifar_dir
    payload = _batch_bytes(*_good_batch())
    n_bytes = cut if isinstance(cut, int) else int(len(payload) * cut)
    path = _replace_test_batch(parent, payload[:n_bytes])
    with pytest.raises(ValueError, match="could not be decoded") as info:
        load_cifar10(parent, subset="test")
    message = str(info.value)
    assert repr(str(path)) in message and "python-version CIFAR-10 batches" in message
    assert isinstance(info.value.__cause__, pickle.UnpicklingError | EOFError)


def test_empty_batch_file(cifar_dir):
    parent, _, _ = cifar_dir
    path = _replace_test_batch(parent, b"")
    with pytest.raises(ValueError, match=r"is empty \(0 bytes\).*python-version") as info:
        load_cifar10(parent, subset="test")
    assert repr(str(path)) in str(info.value)


class _RunsCode:
    """A pickle that calls os.mkdir when unpickled by a plain unpickler."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import os

        return (os.mkdir, (self.target,))


@pytest.mark.parametrize(
    "payload_of, match",
    [
        (lambda tmp: b"this is a text file, not a pickle\n", "could not be decoded"),
        (lambda tmp: b"\x89PNG\r\n\x1a\n" + bytes(100), "could not be decoded"),
        (lambda tmp: pickle.dumps([1, 2, 3]), "pickled list, not a CIFAR-10 batch"),
        (lambda tmp: pickle.dumps({b"pixels": 1}), "no 'data' or 'labels'.*b'pixels'"),
        (lambda tmp: pickle.dumps({"x": __import__("decimal").Decimal(1)}), "decimal.Decimal"),
        (lambda tmp: pickle.dumps({b"data": _RunsCode(str(tmp / "pwned"))}), "mkdir"),
    ],
)
def test_foreign_files(cifar_dir, payload_of, match):
    parent, _, _ = cifar_dir
    path = _replace_test_batch(parent, payload_of(parent))
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(parent, subset="test")
    assert repr(str(path)) in str(info.value)
    # A foreign pickle is refused before any of its code runs.
    assert not (parent / "pwned").exists()


@pytest.mark.parametrize(
    "data, match",
    [
        (np.full((2, 3072), 0.5), "dtype float64; expected uint8"),  # already scaled
        (np.full((2, 3072), 200.0), "dtype float64; expected uint8"),
        (np.full((2, 3072), 200, dtype=np.float32), "dtype float32; expected uint8"),
        (np.full((2, 3072), 300, dtype=np.int16), r"values in 300\.\.300.*0\.\.255"),
        (np.full((2, 3072), -1, dtype=np.int8), r"values in -1\.\.-1.*0\.\.255"),
        (np.ones((2, 3072), dtype=bool), "dtype bool"),
        (np.array(["a"] * 2), "dtype <U1"),
        (np.zeros((2, 32, 32, 3), dtype=np.uint8), r"shape \(N, 3072\).*\(2, 32, 32, 3\)"),
        (np.zeros(2 * 3072, dtype=np.uint8), r"shape \(N, 3072\).*\(6144,\)"),
        (np.zeros((0, 3072), dtype=np.uint8), "holds no images"),
    ],
)
def test_bad_data_arrays(cifar_dir, data, match):
    parent, _, _ = cifar_dir
    path = _replace_test_batch(parent, _batch_bytes(data, [0] * max(len(data), 1)))
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(parent, subset="test")
    assert repr(str(path)) in str(info.value)


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.int32])
def test_integer_data_in_byte_range_is_read_exactly(cifar_dir, dtype):
    parent, _, _ = cifar_dir
    data, labels = _good_batch()
    _replace_test_batch(parent, _batch_bytes(data.astype(dtype), labels))
    X, _ = load_cifar10(parent, subset="test", flatten=True, dtype=np.float64, return_X_y=True)
    assert X.min() >= 0.0 and X.max() <= 1.0
    nhwc = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(len(data), -1)
    np.testing.assert_array_equal(X, nhwc / 255.0)


@pytest.mark.parametrize(
    "labels, match",
    [
        ([0.0, 1.5], "labels have dtype float64; expected integers in 0..9"),
        (["cat", "dog"], "labels have dtype <U3"),
        ([3, 10], r"labels in 3\.\.10; expected integers in 0\.\.9"),
        ([-1, 2], r"labels in -1\.\.2"),
        ([[1], [2]], r"2 labels \(shape \(2, 1\)\)"),
        ([1, 2, 3], "3 labels .* for 2 images"),
        ([2**70, 1], "dtype object"),
    ],
)
def test_bad_labels(cifar_dir, labels, match):
    parent, _, _ = cifar_dir
    data = np.zeros((2, 3072), dtype=np.uint8)
    payload = pickle.dumps({b"data": data, b"labels": labels}, protocol=2)
    path = _replace_test_batch(parent, payload)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(parent, subset="test")
    assert repr(str(path)) in str(info.value)


def test_bad_argument_types(cifar_dir):
    parent, _, _ = cifar_dir
    with pytest.raises(TypeError, match="path must be a str or path-like"):
        load_cifar10(None)
    with pytest.raises(TypeError, match="flatten must be True or False"):
        load_cifar10(parent, flatten="yes")
    with pytest.raises(TypeError, match="return_X_y must be True or False"):
        load_cifar10(parent, return_X_y=1)
    with pytest.raises(ValueError, match="subset must be one of"):
        load_cifar10(parent, subset=["train"])
    X, _ = load_cifar10(str(parent).encode(), subset="test", return_X_y=True)  # bytes path
    assert X.shape == (TEST_SIZE, 32, 32, 3)
