"""Batch data augmentation (dlcore.data.transforms) and TensorDataset(transform=...)."""

import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.data import DataLoader, TensorDataset
from dlcore.data import transforms as T


def images(n=6, c=1, h=5, w=7, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def test_random_crop_with_padding_is_a_shift_of_each_image():
    x = images(n=40)
    dlcore.manual_seed(0)
    out = T.RandomCrop((5, 7), padding=2)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for n in range(len(x)):
        found = [(i, j) for i in range(5) for j in range(5)
                 if np.array_equal(padded[n, :, i:i + 5, j:j + 7], out[n])]
        assert found, f"sample {n} is not a window of its padded image"
        offsets.add(found[0])
    assert len(offsets) > 5  # drawn per sample, not once per batch


def test_random_crop_smaller_window_rgb_and_no_channel_axis():
    rgb = images(n=4, c=3, h=8, w=8)
    out = T.RandomCrop(5)(rgb)
    assert out.shape == (4, 3, 5, 5)
    for n in range(4):  # the three channels are cut at the same place
        window = [(i, j) for i in range(4) for j in range(4)
                  if np.array_equal(rgb[n, :, i:i + 5, j:j + 5], out[n])]
        assert window
    gray = images(n=3)[:, 0]
    assert T.RandomCrop((5, 7), padding=1)(gray).shape == gray.shape
    with pytest.raises(ValueError, match=r"size \(9, 9\) is larger than the padded images"):
        T.RandomCrop(9)(rgb[:, :, :8, :8])
    with pytest.raises(ValueError, match="expected a batch of images"):
        T.RandomCrop(2)(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="padding must be non-negative"):
        T.RandomCrop(2, padding=-1)
    for bad in (2.5, (2, 0), "2"):
        with pytest.raises(ValueError, match="size must be a positive int or pair"):
            T.RandomCrop(bad)


def test_random_horizontal_flip():
    x = images(n=1000, h=2, w=3)
    assert np.array_equal(T.RandomHorizontalFlip(0.0)(x), x)
    assert np.array_equal(T.RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    out = T.RandomHorizontalFlip()(x)
    flipped = np.array([np.array_equal(o, s[..., ::-1]) for o, s in zip(out, x)])
    same = np.array([np.array_equal(o, s) for o, s in zip(out, x)])
    assert np.all(flipped | same)
    assert 400 < flipped.sum() < 600  # p = 0.5: 500 +- 6 standard deviations
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        T.RandomHorizontalFlip(1.5)


def test_draws_follow_manual_seed_and_tensors_stay_tensors():
    x = images(n=8)
    augment = T.Compose([T.RandomCrop((5, 7), padding=1), T.RandomHorizontalFlip()])
    dlcore.manual_seed(3)
    first = augment(x)
    dlcore.manual_seed(3)
    np.testing.assert_array_equal(augment(x), first)
    out = augment(dlcore.tensor(x))
    assert isinstance(out, dlcore.Tensor) and out.shape == x.shape
    assert "RandomCrop(size=(5, 7), padding=1)" in repr(augment)
    with pytest.raises(TypeError, match="transform 1 is not callable"):
        T.Compose([augment, 3])


def test_normalize_transform_is_dlcore_data_normalize():
    x = images(n=2, c=3)
    np.testing.assert_allclose(T.Normalize([0.5, 0.4, 0.3], [0.2, 0.2, 0.1])(x),
                               dlcore.data.normalize(x, [0.5, 0.4, 0.3], [0.2, 0.2, 0.1]))


def test_tensor_dataset_applies_the_transform_to_inputs_only():
    x = images(n=10)
    y = np.arange(10)
    ds = TensorDataset(x, y, transform=T.RandomHorizontalFlip(1.0))
    xb, yb = ds.get_batch(np.array([4, 2]))
    np.testing.assert_array_equal(xb, x[[4, 2]][..., ::-1])
    np.testing.assert_array_equal(yb, [4, 2])
    x0, y0 = ds[0]
    np.testing.assert_array_equal(x0, x[0][..., ::-1])
    assert y0 == 0
    with pytest.raises(TypeError, match="transform must be callable"):
        TensorDataset(x, y, transform="flip")


def test_every_epoch_sees_new_draws_and_fit_trains_on_them():
    dlcore.manual_seed(0)
    images_u8, labels = dlcore.datasets.load_mnist_subset()
    x = dlcore.data.to_tensor_images(images_u8[::10])
    y = labels[::10]
    ds = TensorDataset(x, y, transform=T.RandomCrop(28, padding=2))
    loader = DataLoader(ds, batch_size=100, shuffle=False)
    first, second = next(iter(loader))[0], next(iter(loader))[0]
    assert not np.array_equal(first, second)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    model.compile(optimizer=dlcore.optim.Adam(model.parameters(), lr=3e-3),
                  loss="cross_entropy")
    history = model.fit(DataLoader(ds, batch_size=50, shuffle=True), epochs=6, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
