"""What the installed package ships."""

import sys
from pathlib import Path

import dlcore
from dlcore import _core


def test_extension_is_built_for_the_stable_abi():
    # One abi3 wheel per platform serves every CPython from 3.9 on (rust-numpy works there).
    name = Path(_core.__file__).name
    if sys.platform != "win32":
        assert ".abi3." in name, name


def test_typing_marker_and_stub_ship_with_the_package():
    package = Path(dlcore.__file__).parent
    assert (package / "py.typed").exists()
    assert (package / "_core.pyi").exists()
    assert (package / "datasets" / "data" / "mnist_5k.npz").exists()
    assert (package / "datasets" / "data" / "README.md").exists()
