"""Subset and random_split, as torch.utils.data's."""

import numpy as np
import pytest

import dlcore
from dlcore.data import DataLoader, Dataset, Subset, TensorDataset, random_split

X = np.arange(40, dtype=np.float32).reshape(20, 2)
Y = np.arange(20)


def test_counts_split_every_sample_once_and_are_seeded():
    dlcore.manual_seed(0)
    train, val = random_split(TensorDataset(X, Y), [15, 5])
    assert (len(train), len(val)) == (15, 5)
    seen = np.concatenate([train.indices, val.indices])
    assert sorted(seen) == list(range(20))
    dlcore.manual_seed(0)
    again, _ = random_split(TensorDataset(X, Y), [15, 5])
    np.testing.assert_array_equal(train.indices, again.indices)
    other, _ = random_split(TensorDataset(X, Y), [15, 5], generator=np.random.default_rng(1))
    assert list(other.indices) != list(train.indices)


def test_fractions_round_down_and_give_the_rest_out_in_turn():
    parts = random_split(TensorDataset(X, Y), [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [10, 6, 4]
    parts = random_split(np.arange(7), [0.5, 0.5])  # 3 + 3, the seventh to the first
    assert [len(p) for p in parts] == [4, 3]
    assert [len(p) for p in random_split(np.arange(5), [1])] == [5]


def test_samples_and_batches_come_from_the_underlying_dataset():
    subset = Subset(TensorDataset(X, Y), [7, 2, 19])
    x, y = subset[1]
    np.testing.assert_array_equal(x, X[2])
    assert y == 2
    xb, yb = next(iter(DataLoader(subset, batch_size=3)))
    np.testing.assert_array_equal(xb, X[[7, 2, 19]])
    np.testing.assert_array_equal(yb, [7, 2, 19])
    # A dataset without get_batch is read sample by sample and collated.

    class Squares(Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return np.float32(i * i), i

    xb, yb = next(iter(DataLoader(Subset(Squares(), [3, 1]), batch_size=2)))
    np.testing.assert_array_equal(xb, [9.0, 1.0])
    np.testing.assert_array_equal(yb, [3, 1])
    tb = Subset(dlcore.tensor(X), [0, 5]).get_batch(slice(None))
    assert isinstance(tb, dlcore.Tensor) and tb.shape == (2, 2)


def test_fit_on_a_split():
    from dlcore import nn
    dlcore.manual_seed(3)
    x = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    train, val = random_split(TensorDataset(x, y), [0.75, 0.25])
    model = nn.Sequential(nn.Linear(4, 2))
    model.compile("adam", loss="cross_entropy", metrics=["accuracy"])
    history = model.fit(DataLoader(train, batch_size=16, shuffle=True), epochs=2, verbose=0,
                        validation_data=DataLoader(val, batch_size=16))
    assert len(history.history["val_accuracy"]) == 2


def test_bad_lengths_and_indices_are_named():
    ds = TensorDataset(X, Y)
    with pytest.raises(ValueError, match="lengths add up to 19 but the dataset has 20"):
        random_split(ds, [15, 4])
    with pytest.raises(ValueError, match="fractions that add up to 1; got \\[0.5, 0.4\\]"):
        random_split(ds, [0.5, 0.4])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [25, -5])
    with pytest.raises(TypeError, match="lengths must be numbers"):
        random_split(ds, ["10", 10])
    with pytest.raises(ValueError, match="lengths is empty"):
        random_split(ds, [])
    with pytest.raises(IndexError, match="index 20 is out of range for a dataset of 20"):
        Subset(ds, [0, 20])
    with pytest.raises(TypeError, match="indices must be a 1-D sequence of ints"):
        Subset(ds, [0.5])
