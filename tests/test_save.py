"""dlcore.save / dlcore.load: exact round trips, validation on load, atomic writes."""

import gc
import io
import json
import os
import zipfile

import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.serialization import CheckpointError


def _example():
    rng = np.random.default_rng(0)
    dlcore.manual_seed(5)
    dlcore.randn(3)  # move the generator off its seed
    return {
        "model": {"0.weight": rng.normal(size=(4, 3)).astype(np.float32),
                  "0.bias": np.arange(4, dtype=np.float64)},
        "optimizer": {"state": {0: {"step": 7, "exp_avg": np.ones(3, np.float32)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                        "amsgrad": False, "foreach": None}]},
        "epoch": 3,
        "rng": dlcore.get_rng_state(),
        "tensor": dlcore.tensor([1.0, 2.0], requires_grad=True),
        "ints": np.array([[1, -2]], dtype=np.int16),
        "flags": np.array([True, False]),
        "scalar": np.float32(2.5),
        "text": "ünïcode",
        "nan": float("nan"),
        "big": 2 ** 127 + 12345,
        "empty": np.zeros((0, 5), np.float32),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }


def _assert_same(a, b):
    assert type(a) is type(b) or (isinstance(a, dict) and isinstance(b, dict)), (a, b)
    if isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, dlcore.Tensor):
        assert a.dtype == b.dtype and a.requires_grad == b.requires_grad
        assert np.array_equal(a.data, b.data)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


def test_round_trip_keeps_structure_dtypes_and_exact_values(tmp_path):
    obj = _example()
    path = tmp_path / "ckpt.npz"
    dlcore.save(obj, path)
    loaded = dlcore.load(path)
    _assert_same(obj, loaded)
    assert loaded["rng"]["state"]["state"] == obj["rng"]["state"]["state"]  # 128-bit int
    assert isinstance(loaded["optimizer"]["param_groups"][0]["betas"], tuple)
    assert list(loaded["optimizer"]["state"].keys()) == [0]


def test_rng_state_restores_the_same_stream(tmp_path):
    dlcore.manual_seed(11)
    dlcore.randn(5)
    dlcore.save({"rng": dlcore.get_rng_state()}, tmp_path / "rng.npz")
    expected = dlcore.randn(4).data
    dlcore.manual_seed(0)
    dlcore.set_rng_state(dlcore.load(tmp_path / "rng.npz")["rng"])
    assert np.array_equal(dlcore.randn(4).data, expected)


def test_model_save_and_load_weights(tmp_path):
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2).double())
    model.save(tmp_path / "w.npz")
    dlcore.manual_seed(1)
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2).double())
    other.load_weights(tmp_path / "w.npz")
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    # a bare state dict and a full checkpoint load too
    dlcore.save(model.state_dict(), tmp_path / "bare.npz")
    other.load_weights(tmp_path / "bare.npz")
    dlcore.save({"model": model.state_dict(), "epoch": 1}, tmp_path / "ckpt.npz")
    other.load_weights(tmp_path / "ckpt.npz")
    wrong = nn.Sequential(nn.Linear(3, 5))
    with pytest.raises(ValueError, match="shape"):
        wrong.load_weights(tmp_path / "w.npz")


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['f'\] is a function"):
        dlcore.save({"f": lambda: 0}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="dict keys must be str or int"):
        dlcore.save({(1, 2): 0}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="without pickle"):
        dlcore.save({"o": np.array([object()])}, tmp_path / "x.npz")
    assert not os.path.exists(tmp_path / "x.npz")


def _rewrite(path, mutate):
    """Rewrite the archive's members after ``mutate(dict of name -> bytes)``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    mutate(members)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _manifest_edit(edit):
    def mutate(members):
        raw = np.load(io.BytesIO(members["__manifest__.npy"]))
        manifest = json.loads(raw.tobytes())
        edit(manifest)
        buffer = io.BytesIO()
        np.save(buffer, np.frombuffer(json.dumps(manifest).encode(), np.uint8))
        members["__manifest__.npy"] = buffer.getvalue()
    return mutate


def test_a_container_holding_itself_is_refused(tmp_path):
    # It recursed until RecursionError.
    obj = {"epoch": 1, "history": []}
    obj["history"].append(obj)
    with pytest.raises(ValueError, match=r"save: obj\['history'\]\[0\] contains itself"):
        dlcore.save(obj, tmp_path / "ckpt.npz")
    shared = np.ones(2)
    dlcore.save({"a": [shared], "b": [shared]}, tmp_path / "ckpt.npz")  # sharing is fine


@pytest.mark.filterwarnings("error::ResourceWarning")
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_truncated_file_raises_clearly(tmp_path):
    path = tmp_path / "ckpt.npz"
    dlcore.save(_example(), path)
    data = path.read_bytes()
    for cut in (len(data) // 2, 100, 10):
        path.write_bytes(data[:cut])
        # np.load leaves its file open when the zip directory cannot be read (a handle that,
        # on Windows, stops the user from deleting or replacing the bad file): the
        # ResourceWarning of that handle's finaliser fails the test.
        with pytest.raises(CheckpointError, match="ckpt.npz"):
            dlcore.load(path)
        gc.collect()


def test_flipped_byte_is_caught_by_crc(tmp_path):
    path = tmp_path / "ckpt.npz"
    dlcore.save({"w": np.arange(1000, dtype=np.float64)}, path)
    data = bytearray(path.read_bytes())
    offset = data.index(np.arange(1000, dtype=np.float64)[500:501].tobytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        dlcore.load(path)


def test_manifest_checks(tmp_path):
    path = tmp_path / "ckpt.npz"

    def fresh():
        dlcore.save({"w": np.ones((2, 3), np.float32)}, path)

    fresh()
    _rewrite(path, _manifest_edit(lambda m: m.update(version=99)))
    with pytest.raises(CheckpointError, match="version 99 is newer"):
        dlcore.load(path)
    fresh()
    _rewrite(path, _manifest_edit(lambda m: m["root"]["items"][0]["value"].update(
        shape=[3, 2])))
    with pytest.raises(CheckpointError, match=r"shape \[2, 3\] but the manifest says"):
        dlcore.load(path)
    fresh()
    _rewrite(path, _manifest_edit(lambda m: m["root"]["items"][0]["value"].update(
        dtype="<f8")))
    with pytest.raises(CheckpointError, match="dtype <f4"):
        dlcore.load(path)
    fresh()
    _rewrite(path, lambda members: members.pop("a0.npy"))
    with pytest.raises(CheckpointError, match="'a0' listed in the manifest is missing"):
        dlcore.load(path)
    fresh()
    _rewrite(path, lambda members: members.update({"extra.npy": members["a0.npy"]}))
    with pytest.raises(CheckpointError, match="not in the manifest"):
        dlcore.load(path)
    fresh()
    _rewrite(path, lambda members: members.pop("__manifest__.npy"))
    with pytest.raises(CheckpointError, match="no manifest"):
        dlcore.load(path)


def test_other_files_are_refused(tmp_path):
    np.save(tmp_path / "plain.npy", np.ones(3))
    with pytest.raises(CheckpointError, match="single .npy array"):
        dlcore.load(tmp_path / "plain.npy")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable dlcore checkpoint"):
        dlcore.load(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError):
        dlcore.load(tmp_path / "missing.npz")


def test_pickled_arrays_are_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __manifest__=np.frombuffer(json.dumps(
        {"format": "dlcore", "version": 1,
         "root": {"type": "array", "key": "a0", "dtype": "|O", "shape": [1]}}).encode(),
        np.uint8), a0=np.array([object()], dtype=object))
    with pytest.raises(CheckpointError, match="a0"):
        dlcore.load(path)


def test_failed_write_leaves_previous_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    dlcore.save({"epoch": 1, "w": np.ones(3)}, path)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        dlcore.save({"epoch": 2, "w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]
    assert dlcore.load(path)["epoch"] == 1


def test_failure_in_the_middle_of_writing_arrays(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    dlcore.save({"epoch": 1}, path)
    before = path.read_bytes()
    real_write_array = np.lib.format.write_array
    calls = []

    def write_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return real_write_array(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(RuntimeError, match="power cut"):
        dlcore.save({"a": np.ones(10), "b": np.ones(10), "c": np.ones(10)}, path)
    monkeypatch.undo()
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_save_is_a_rename_of_a_complete_file(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.path.basename(src), os.path.getsize(src)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    dlcore.save({"w": np.ones(100)}, tmp_path / "ckpt.npz")
    directory, name, size = seen[0]
    assert directory == str(tmp_path) and name.startswith(".ckpt.npz.")
    assert size == os.path.getsize(tmp_path / "ckpt.npz")


def test_saved_file_gets_the_usual_permissions(tmp_path):
    # The temporary file comes from mkstemp, which creates it 0600: the checkpoint was
    # unreadable to the group and others, unlike a file NumPy or PyTorch writes.
    old = os.umask(0o022)
    try:
        dlcore.save({"w": np.ones(2)}, tmp_path / "new.npz")
        np.save(tmp_path / "plain.npy", np.ones(2))
    finally:
        os.umask(old)
    mode = os.stat(tmp_path / "new.npz").st_mode & 0o777
    assert mode == os.stat(tmp_path / "plain.npy").st_mode & 0o777  # 0o644 on POSIX
    # Overwriting keeps the mode the existing file was given.
    os.chmod(tmp_path / "new.npz", 0o640)
    given = os.stat(tmp_path / "new.npz").st_mode & 0o777
    dlcore.save({"w": np.zeros(2)}, tmp_path / "new.npz")
    assert os.stat(tmp_path / "new.npz").st_mode & 0o777 == given


def test_missing_directory_is_named(tmp_path):
    target = tmp_path / "runs" / "ckpt.npz"
    with pytest.raises(FileNotFoundError, match=r"save: directory .*runs'? does not exist"):
        dlcore.save({"w": np.ones(2)}, target)


def test_a_directory_as_the_target_is_named_and_leaves_nothing(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"save: .* is a directory; give a file path, "
                                                r"e\.g\. .*model\.npz"):
        dlcore.save({"w": np.ones(2)}, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert not [p for p in tmp_path.parent.iterdir() if p.name.endswith(".tmp")]


class _Composite(nn.Module):
    """ModuleList, ModuleDict, ConvTranspose2d and LayerNorm, saved and restored together."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Conv2d(1, 4, 3, stride=2, padding=1),
                                     nn.ConvTranspose2d(4, 2, 2, stride=2)])
        self.heads = nn.ModuleDict({"norm": nn.LayerNorm((2, 8, 8))})

    def forward(self, x):
        for block in self.blocks:
            x = block(x).relu()
        return self.heads["norm"](x)


def test_containers_and_new_layers_round_trip(tmp_path):
    dlcore.manual_seed(0)
    model = _Composite()
    model.heads["norm"].weight.data[:] = 2.0
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)
    model.save_weights(tmp_path / "composite.npz")
    dlcore.manual_seed(1)
    other = _Composite()
    assert not np.allclose(other(x).numpy(), model(x).numpy())
    other.load_weights(tmp_path / "composite.npz")
    np.testing.assert_array_equal(other(x).numpy(), model(x).numpy())
    assert "blocks.1.weight" in dlcore.load(tmp_path / "composite.npz")["model"]
