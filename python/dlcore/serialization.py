"""``dlcore.save`` / ``dlcore.load``: checkpoints that cannot run code when loaded.

Format (version 1): a NumPy ``.npz`` archive (a zip of ``.npy`` files) holding

- ``__manifest__``: UTF-8 JSON bytes describing the saved object: the format name and
  version, and a tree mirroring the object. Containers are ``dict`` (keys are ``str`` or
  ``int``, order kept), ``list`` and ``tuple``; leaves are ``array`` / ``tensor`` /
  ``numpy scalar`` (naming an entry of the archive with its dtype and shape), or plain
  ``int``, ``float``, ``bool``, ``str`` and ``None`` stored in the JSON itself. Ints and
  floats are written as decimal strings, so 128-bit generator states and ``nan`` survive
  exactly.
- ``a0``, ``a1``, ...: the arrays.

Loading uses ``np.load(allow_pickle=False)`` and checks the manifest against the archive
(every array present with the recorded dtype and shape, nothing extra); any mismatch, a
truncated or corrupted file (zip CRCs catch flipped bytes) or an unknown version raises
:class:`CheckpointError` naming the file.

Writing is atomic: the archive goes to a temporary file in the target's directory, is
flushed and fsynced, given the permissions a new file (or the file it replaces) would have,
then renamed over the target (``os.replace``), and the directory is fsynced. If anything
fails the temporary file is removed and an existing file at ``path`` is untouched.
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from typing import Any, Dict, List

import numpy as np

from .tensor import Tensor

FORMAT_NAME = "dlcore"
FORMAT_VERSION = 1
_MANIFEST_KEY = "__manifest__"
_ALLOWED_KINDS = "biufcUS"


class CheckpointError(ValueError):
    """A file that is not a valid dlcore checkpoint (corrupted, truncated, wrong version)."""


# --------------------------------------------------------------------- encoding
class _Encoder:
    def __init__(self) -> None:
        self.arrays: Dict[str, np.ndarray] = {}
        self.open: set = set()  # ids of the containers being encoded (the current path)

    def _container(self, obj: Any, where: str) -> Dict[str, Any]:
        if id(obj) in self.open:
            raise ValueError(f"save: {where} contains itself (a reference cycle)")
        self.open.add(id(obj))
        try:
            return self._encode_container(obj, where)
        finally:
            self.open.discard(id(obj))

    def _add_array(self, array: np.ndarray, where: str) -> Dict[str, Any]:
        if array.dtype.kind not in _ALLOWED_KINDS or array.dtype.fields is not None:
            raise TypeError(f"save: {where} has dtype {array.dtype}, which cannot be saved "
                            "without pickle (use numeric, bool or string arrays)")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = array
        return {"key": key, "dtype": array.dtype.str, "shape": list(array.shape)}

    def encode(self, obj: Any, where: str) -> Dict[str, Any]:
        # bool before int: bool is a subclass of int.
        if obj is None:
            return {"type": "none"}
        if isinstance(obj, bool):
            return {"type": "bool", "value": bool(obj)}
        if isinstance(obj, Tensor):
            node = self._add_array(obj.data, where)
            node.update(type="tensor", requires_grad=bool(obj.requires_grad))
            return node
        if isinstance(obj, np.ndarray):
            node = self._add_array(obj, where)
            node["type"] = "array"
            return node
        if isinstance(obj, np.generic):
            node = self._add_array(np.asarray(obj), where)
            node["type"] = "numpy_scalar"
            return node
        if isinstance(obj, int):
            return {"type": "int", "value": str(int(obj))}
        if isinstance(obj, float):
            return {"type": "float", "value": repr(float(obj))}
        if isinstance(obj, str):
            return {"type": "str", "value": obj}
        if isinstance(obj, (dict, list, tuple)):
            return self._container(obj, where)
        raise TypeError(f"save: {where} is a {type(obj).__name__}; dlcore.save stores nested "
                        "dicts, lists and tuples of arrays, tensors, numbers, strings and None")

    def _encode_container(self, obj: Any, where: str) -> Dict[str, Any]:
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if isinstance(key, bool) or not isinstance(key, (str, int, np.integer)):
                    raise TypeError(f"save: {where} has a key {key!r} of type "
                                    f"{type(key).__name__}; dict keys must be str or int")
                key_type = "str" if isinstance(key, str) else "int"
                items.append({"key": str(key) if key_type == "int" else key,
                              "key_type": key_type,
                              "value": self.encode(value, f"{where}[{key!r}]")})
            return {"type": "dict", "items": items}
        kind = "tuple" if isinstance(obj, tuple) else "list"
        values = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return {"type": kind, "items": values}


def save(obj: Any, path: Any) -> None:
    """Save ``obj`` to ``path`` atomically, in dlcore's pickle-free ``.npz`` format.

    Args:
        obj: nested ``dict`` (str or int keys) / ``list`` / ``tuple`` of NumPy arrays,
            Tensors, NumPy scalars, ``int``, ``float``, ``bool``, ``str`` and ``None``.
        path: the file to write (``.npz`` is the usual suffix; none is added).

    Example:
        >>> dlcore.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
        ...              "epoch": 3, "rng": dlcore.get_rng_state()}, "ckpt.npz")
    """
    import json  # here, not at the top: ``import dlcore`` stays fast

    encoder = _Encoder()
    root = encoder.encode(obj, "obj")
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "root": root}
    payload = dict(encoder.arrays)
    payload[_MANIFEST_KEY] = np.frombuffer(json.dumps(manifest).encode("utf-8"), np.uint8)
    _atomic_write(os.fspath(path), lambda handle: np.savez(handle, **payload))


def _atomic_write(path: str, write: Any) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"save: {path!r} is a directory; give a file path, e.g. "
                                f"{os.path.join(path, 'model.npz')!r}")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: directory {directory!r} does not exist (create it "
                                f"first, e.g. os.makedirs)")
    mode = _mode_for(path)
    fd, tmp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                    dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_path, mode)  # mkstemp creates files 0600
        os.replace(tmp_path, path)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _mode_for(path: str) -> int:
    """The permissions the checkpoint gets: those of the file it replaces, else what
    ``open()`` would give a new file (0o666 minus the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    try:  # Linux reports the umask without changing it
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------- decoding
class _Decoder:
    def __init__(self, path: str, archive: Any) -> None:
        self.path = path
        self.archive = archive
        self.used: List[str] = []

    def fail(self, message: str) -> CheckpointError:
        return CheckpointError(f"load: {self.path!r}: {message}")

    def _array(self, node: Dict[str, Any], where: str) -> np.ndarray:
        key = node.get("key")
        if not isinstance(key, str) or key not in self.archive.files:
            raise self.fail(f"{where}: array {key!r} listed in the manifest is missing")
        try:
            array = self.archive[key]
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
            raise self.fail(f"{where}: array {key!r} is corrupted ({err})") from None
        if array.dtype.str != node.get("dtype") or list(array.shape) != node.get("shape"):
            raise self.fail(f"{where}: array {key!r} has dtype {array.dtype.str} and shape "
                            f"{list(array.shape)} but the manifest says {node.get('dtype')} "
                            f"and {node.get('shape')}")
        self.used.append(key)
        return array

    def decode(self, node: Any, where: str) -> Any:
        if not isinstance(node, dict) or "type" not in node:
            raise self.fail(f"{where}: malformed manifest entry {node!r}")
        kind = node["type"]
        try:
            if kind == "none":
                return None
            if kind == "bool":
                return bool(node["value"])
            if kind == "int":
                return int(node["value"])
            if kind == "float":
                return float(node["value"])
            if kind == "str":
                return str(node["value"])
            if kind == "array":
                return self._array(node, where)
            if kind == "tensor":
                array = self._array(node, where)
                requires_grad = bool(node.get("requires_grad")) and array.dtype.kind == "f"
                return Tensor(array, requires_grad=requires_grad)
            if kind == "numpy_scalar":
                return self._array(node, where)[()]
            if kind in ("list", "tuple"):
                values = [self.decode(v, f"{where}[{i}]") for i, v in enumerate(node["items"])]
                return tuple(values) if kind == "tuple" else values
            if kind == "dict":
                out: Dict[Any, Any] = {}
                for item in node["items"]:
                    key = int(item["key"]) if item["key_type"] == "int" else str(item["key"])
                    out[key] = self.decode(item["value"], f"{where}[{key!r}]")
                return out
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, CheckpointError):
                raise
            raise self.fail(f"{where}: malformed manifest entry ({err!r})") from None
        raise self.fail(f"{where}: unknown entry type {kind!r}")


def load(path: Any) -> Any:
    """Load an object written by :func:`save`.

    Arrays come back as NumPy arrays with their saved dtype and shape, tensors as Tensors
    (``requires_grad`` kept), dicts as ``dict`` (order kept), tuples as tuples.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError (a ValueError): the file is not a dlcore checkpoint, is truncated or
            corrupted, was written by a newer format version, or its manifest disagrees
            with its arrays.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file {path!r}")
    try:
        # Our own handle: np.load(path) leaves its file open when the zip cannot be read.
        handle = open(path, "rb")
    except OSError as err:
        raise CheckpointError(f"load: {path!r} is not a readable dlcore checkpoint: "
                              f"{err}") from None
    with handle:
        return _load_from(path, handle)


def _load_from(path: str, handle: Any) -> Any:
    try:
        archive = np.load(handle, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise CheckpointError(f"load: {path!r} is not a readable dlcore checkpoint "
                              f"(truncated or corrupted?): {err}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise CheckpointError(f"load: {path!r} is a single .npy array, not a dlcore "
                              "checkpoint archive")
    with archive:
        decoder = _Decoder(path, archive)
        manifest = _read_manifest(decoder)
        obj = decoder.decode(manifest["root"], "obj")
        extra = sorted(set(archive.files) - set(decoder.used) - {_MANIFEST_KEY})
        if extra:
            raise decoder.fail(f"arrays {extra} are in the archive but not in the manifest")
    return obj


def _read_manifest(decoder: _Decoder) -> Dict[str, Any]:
    import json

    archive = decoder.archive
    if _MANIFEST_KEY not in archive.files:
        raise decoder.fail("no manifest: this .npz was not written by dlcore.save")
    try:
        raw = archive[_MANIFEST_KEY]
        manifest = json.loads(raw.tobytes().decode("utf-8"))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise decoder.fail(f"the manifest is corrupted ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise decoder.fail("the manifest does not describe a dlcore checkpoint")
    version = manifest.get("version")
    if not isinstance(version, int) or version < 1:
        raise decoder.fail(f"invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise decoder.fail(f"format version {version} is newer than this dlcore reads "
                           f"(up to {FORMAT_VERSION}); upgrade dlcore")
    if "root" not in manifest:
        raise decoder.fail("the manifest has no root entry")
    return manifest
