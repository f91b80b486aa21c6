"""MNIST / Fashion-MNIST IDX readers on small synthetic files, valid and broken."""

import gzip
import os

import numpy as np
import pytest

import dlcore
from dlcore.datasets import load_fashion_mnist, load_mnist, read_idx


def _idx_bytes(array, type_code=0x08):
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def _write(directory, name, data, gz=False):
    path = os.path.join(directory, name + (".gz" if gz else ""))
    with open(path, "wb") as handle:
        handle.write(gzip.compress(data) if gz else data)
    return path


def _dataset(directory, prefix="train", n=5, gz=False, rows=28):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, rows, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    _write(directory, f"{prefix}-images-idx3-ubyte", _idx_bytes(images), gz)
    _write(directory, f"{prefix}-labels-idx1-ubyte", _idx_bytes(labels), gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_reads_plain_and_gzip(tmp_path, gz):
    images, labels = _dataset(str(tmp_path), "train", gz=gz)
    got_images, got_labels = load_mnist(tmp_path)
    assert got_images.dtype == np.uint8 and got_images.shape == (5, 28, 28)
    assert np.array_equal(got_images, images) and np.array_equal(got_labels, labels)
    assert got_images.flags["WRITEABLE"]


def test_load_test_split_and_fashion_mnist(tmp_path):
    images, labels = _dataset(str(tmp_path), "t10k", n=3)
    got_images, got_labels = load_mnist(str(tmp_path), kind="test")
    assert np.array_equal(got_images, images) and np.array_equal(got_labels, labels)
    fashion_images, _ = load_fashion_mnist(str(tmp_path), kind="test")
    assert np.array_equal(fashion_images, images)
    assert len(dlcore.datasets.FASHION_MNIST_CLASSES) == 10


def test_dotted_file_names_are_found(tmp_path):
    images = np.zeros((2, 28, 28), np.uint8)
    _write(str(tmp_path), "train-images.idx3-ubyte", _idx_bytes(images))
    _write(str(tmp_path), "train-labels.idx1-ubyte", _idx_bytes(np.array([1, 2], np.uint8)))
    assert load_mnist(tmp_path)[1].tolist() == [1, 2]


def test_no_path_gives_the_bundled_subset():
    images, labels = load_mnist()
    assert images.shape == (5000, 28, 28) and labels.shape == (5000,)
    with pytest.raises(ValueError, match="training images only"):
        load_mnist(kind="test")


def test_missing_files_are_listed(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="kind"):
        load_mnist(tmp_path, kind="validation")


def test_swapped_files_fail_on_magic_number(tmp_path):
    images = np.zeros((2, 28, 28), np.uint8)
    labels = np.array([1, 2], np.uint8)
    _write(str(tmp_path), "train-images-idx3-ubyte", _idx_bytes(labels))
    _write(str(tmp_path), "train-labels-idx1-ubyte", _idx_bytes(images))
    with pytest.raises(ValueError, match="magic number 2049, expected 2051.*labels file"):
        load_mnist(tmp_path)


def test_truncated_and_overlong_files(tmp_path):
    images, _ = _dataset(str(tmp_path))
    path = os.path.join(str(tmp_path), "train-images-idx3-ubyte")
    data = _idx_bytes(images)
    _write(str(tmp_path), "train-images-idx3-ubyte", data[:-100])
    with pytest.raises(ValueError, match="truncated.*needs 3936 bytes, found 3836"):
        load_mnist(tmp_path)
    _write(str(tmp_path), "train-images-idx3-ubyte", data + b"\0")
    with pytest.raises(ValueError, match="longer than its header"):
        read_idx(path)
    _write(str(tmp_path), "train-images-idx3-ubyte", data[:6])
    with pytest.raises(ValueError, match="declares 3 dimensions"):
        read_idx(path)


def test_huge_declared_sizes_are_reported_exactly(tmp_path):
    # 2^31 cubed overflowed NumPy's int64 product to 0: 'needs 16 bytes' for a file of 34.
    header = bytes([0, 0, 8, 3]) + (2**31).to_bytes(4, "big") * 3
    path = _write(str(tmp_path), "huge", header + bytes(18))
    with pytest.raises(ValueError, match=f"truncated.*needs {16 + 2**93} bytes, found 34"):
        read_idx(path)


def test_corrupted_gzip_and_garbage(tmp_path):
    images, _ = _dataset(str(tmp_path), gz=True)
    path = os.path.join(str(tmp_path), "train-images-idx3-ubyte.gz")
    blob = gzip.compress(_idx_bytes(images))
    with open(path, "wb") as handle:
        handle.write(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="gzip stream is corrupted or truncated"):
        load_mnist(tmp_path)
    with open(path, "wb") as handle:
        handle.write(b"PK\x03\x04 not an idx file at all")
    with pytest.raises(ValueError, match="not an IDX file"):
        load_mnist(tmp_path)


def test_count_mismatch_and_bad_labels(tmp_path):
    _dataset(str(tmp_path), n=5)
    _write(str(tmp_path), "train-labels-idx1-ubyte", _idx_bytes(np.arange(4, dtype=np.uint8)))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        load_mnist(tmp_path)
    _write(str(tmp_path), "train-labels-idx1-ubyte",
           _idx_bytes(np.array([0, 1, 2, 3, 12], np.uint8)))
    with pytest.raises(ValueError, match="labels must be 0..9, found 12"):
        load_mnist(tmp_path)


def test_read_idx_other_types_big_endian(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 4.0]], dtype=">f4")
    path = _write(str(tmp_path), "floats.idx", _idx_bytes(values, 0x0D))
    got = read_idx(path)
    assert got.dtype == np.float32 and got.dtype.isnative
    assert np.array_equal(got, values)
