"""dlcore.data: TensorDataset, DataLoader (PyTorch semantics) and the image helpers."""

import numpy as np
import pytest

import dlcore
from dlcore.data import (
    DataLoader,
    Dataset,
    TensorDataset,
    default_collate,
    normalize,
    to_tensor_images,
)


def _xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


def test_tensor_dataset_items_and_errors():
    x, y = _xy()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[4]
    assert np.array_equal(xi, x[4]) and yi == 4
    with pytest.raises(ValueError, match=r"\(10, 3\), \(9,\)"):
        TensorDataset(x, y[:9])
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_loader_sequential_batches_are_views_in_order():
    x, y = _xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([b[1] for b in batches]), y)
    assert np.shares_memory(batches[0][0], x)  # a slice: no copy


def test_loader_drop_last_and_len():
    x, y = _xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [len(b[1]) for b in loader] == [4, 4]


def test_loader_shuffle_is_a_permutation_seeded_by_manual_seed():
    x, y = _xy(50)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    dlcore.manual_seed(3)
    first = np.concatenate([b[1] for b in loader])
    second = np.concatenate([b[1] for b in loader])
    dlcore.manual_seed(3)
    again = np.concatenate([b[1] for b in loader])
    assert sorted(first.tolist()) == list(range(50))
    assert not np.array_equal(first, np.arange(50))
    assert not np.array_equal(first, second)  # a new order every pass
    assert np.array_equal(first, again)
    for xb, yb in loader:  # rows stay paired
        assert np.array_equal(xb[:, 0], yb * 3)


def test_loader_private_seed_and_generator():
    x, y = _xy(20)
    a = [b[1] for b in DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, seed=1)]
    b = [b[1] for b in DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True,
                                  generator=np.random.default_rng(1))]
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    with pytest.raises(ValueError, match="not both"):
        DataLoader(x, shuffle=True, seed=1, generator=np.random.default_rng(1))


def test_loader_batches_by_one_fancy_index_not_per_sample():
    class Counting(TensorDataset):
        calls = 0
        batch_calls = 0

        def __getitem__(self, index):
            Counting.calls += 1
            return super().__getitem__(index)

        def get_batch(self, index):
            Counting.batch_calls += 1
            return super().get_batch(index)

    x, y = _xy(100)
    loader = DataLoader(Counting(x, y), batch_size=32, shuffle=True)
    assert len(list(loader)) == 4
    assert Counting.calls == 0 and Counting.batch_calls == 4


def test_loader_over_generic_dataset_collates_samples():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i

    batches = list(DataLoader(Squares(), batch_size=2))
    assert len(batches) == 3
    xb, yb = batches[1]
    assert np.array_equal(xb, [[2, 4], [3, 9]]) and np.array_equal(yb, [2, 3])
    assert isinstance(batches[0], tuple)


def test_loader_batch_size_none_yields_samples():
    x, y = _xy(3)
    samples = list(DataLoader(TensorDataset(x, y), batch_size=None))
    assert len(samples) == 3 and samples[2][1] == 2


def test_loader_over_array_and_tensor():
    x, _ = _xy(6)
    assert [b.shape for b in DataLoader(x, batch_size=4)] == [(4, 3), (2, 3)]
    batches = list(DataLoader(dlcore.tensor(x), batch_size=4))
    assert isinstance(batches[0], dlcore.Tensor) and batches[0].shape == (4, 3)


def test_loader_argument_errors():
    x, y = _xy()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(TensorDataset(x, y), batch_size=bad)
    with pytest.raises(TypeError, match="__len__"):
        DataLoader(object())


def test_default_collate_nested():
    batch = default_collate([{"a": np.ones(2), "b": 1.0}, {"a": np.zeros(2), "b": 2.0}])
    assert batch["a"].shape == (2, 2) and np.array_equal(batch["b"], [1.0, 2.0])
    with pytest.raises(TypeError, match="collate_fn"):
        default_collate([object()])


# --------------------------------------------------------------------- images
def test_to_tensor_images_grayscale_and_rgb():
    gray = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)  # (1, 2, 2)
    out = to_tensor_images(gray)
    assert out.shape == (1, 1, 2, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], [[0, 1], [0.2, 0.4]], rtol=1e-6)

    rgb = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    out = to_tensor_images(rgb)
    assert out.shape == (2, 3, 4, 5) and out.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(out[1, 2], rgb[1, :, :, 2] / 255.0, rtol=1e-6)
    assert to_tensor_images(rgb[..., :1]).shape == (2, 1, 4, 5)


def test_to_tensor_images_errors():
    with pytest.raises(TypeError, match="uint8"):
        to_tensor_images(np.zeros((1, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"channels-first"):
        to_tensor_images(np.zeros((2, 3, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        to_tensor_images(np.zeros((4, 4), dtype=np.uint8))


def test_normalize_per_channel_array_and_tensor():
    x = np.random.default_rng(1).random((2, 3, 4, 4)).astype(np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    out = normalize(x, mean, std)
    for c in range(3):
        np.testing.assert_allclose(out[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-6)
    assert out.dtype == np.float32

    t = dlcore.tensor(x, requires_grad=True)
    result = normalize(t, mean, std)
    assert isinstance(result, dlcore.Tensor)
    result.sum().backward()
    np.testing.assert_allclose(t.grad.data[:, 2], np.full((2, 4, 4), 0.5), rtol=1e-6)
    np.testing.assert_allclose(normalize(x[0], 0.5, 0.5), (x[0] - 0.5) / 0.5, rtol=1e-6)


def test_normalize_errors():
    x = np.zeros((2, 3, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="2 values but .* 3 channels"):
        normalize(x, [0.1, 0.2], [1, 1, 1])
    with pytest.raises(ValueError, match="positive"):
        normalize(x, 0.0, [1, 0, 1])
    with pytest.raises(TypeError, match="to_tensor_images"):
        normalize(np.zeros((2, 3, 4, 4), dtype=np.uint8), 0, 1)
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        normalize(np.zeros((3, 4), dtype=np.float32), 0, 1)
