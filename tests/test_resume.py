"""Resuming: 2 epochs, checkpoint, 2 more in a NEW process == 4 epochs straight."""

import os
import subprocess
import sys
import textwrap

import numpy as np

import dlcore

SCRIPT = textwrap.dedent('''
    import sys
    import numpy as np
    import dlcore
    from dlcore import nn, optim

    mode, workdir = sys.argv[1], sys.argv[2]
    dlcore.set_num_threads(2)
    dlcore.manual_seed(1234)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64) + (x[:, 3] > 1).astype(np.int64)

    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
    opt = optim.Adam(model.parameters(), lr=0.01)
    model.compile(opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit = dict(batch_size=16, shuffle=True, validation_split=0.1, verbose=0)

    if mode == "straight":
        model.fit(x, y, epochs=4, **fit)
        dlcore.save(model.state_dict(), f"{workdir}/straight.npz")
    elif mode == "first":
        model.fit(x, y, epochs=2, **fit)
        dlcore.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                     "epoch": 2, "rng": dlcore.get_rng_state()}, f"{workdir}/ckpt.npz")
    else:
        checkpoint = dlcore.load(f"{workdir}/ckpt.npz")
        model.load_state_dict(checkpoint["model"])
        opt.load_state_dict(checkpoint["optimizer"])
        dlcore.set_rng_state(checkpoint["rng"])
        history = model.fit(x, y, epochs=4, initial_epoch=checkpoint["epoch"], **fit)
        assert history.epoch == [2, 3], history.epoch
        dlcore.save(model.state_dict(), f"{workdir}/resumed.npz")
''')


def _run(mode, workdir):
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(dlcore.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    subprocess.run([sys.executable, "-c", SCRIPT, mode, str(workdir)], check=True, env=env,
                   timeout=120)


def test_resume_in_a_new_process_equals_training_straight_through(tmp_path):
    for mode in ("straight", "first", "second"):
        _run(mode, tmp_path)
    straight = dlcore.load(tmp_path / "straight.npz")
    resumed = dlcore.load(tmp_path / "resumed.npz")
    assert list(straight) == list(resumed)
    for key in straight:
        np.testing.assert_allclose(resumed[key], straight[key], rtol=1e-6, atol=1e-7)
    # and the checkpointed run really is two epochs short of the end
    first = dlcore.load(tmp_path / "ckpt.npz")["model"]
    assert not np.allclose(first["0.weight"], straight["0.weight"])
