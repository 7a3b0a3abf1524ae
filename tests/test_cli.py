"""The gpu-backend command line."""
from __future__ import annotations

import numpy as np

from loader.cli import example_model_dir, main


def test_demo_prints_predictions_and_timings(capsys):
    assert main(["demo", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "predicted classes" in out and "correct" in out
    assert "first inference" in out and "warm median" in out
    assert "-- match (rtol 1e-3, atol 1e-4)" in out


def test_run_with_inputs_writes_outputs(tmp_path, capsys):
    folder = example_model_dir()
    with np.load(folder / "inputs.npz") as z:
        np.save(tmp_path / "x.npy", z["image:0"][:3])
    out_file = tmp_path / "out.npz"
    assert main(["run", str(folder), "--input", f"image={tmp_path / 'x.npy'}", "--out", str(out_file),
                 "--runs", "1"]) == 0
    with np.load(out_file) as z:
        assert z["Identity:0"].shape == (3, 10)
    assert "probs (Identity:0) [3, 10] float32" in capsys.readouterr().out


def test_run_with_random_inputs(capsys):
    assert main(["run", str(example_model_dir() / "model.json"), "--runs", "1"]) == 0
    assert "(random)" in capsys.readouterr().out


def test_inspect(capsys):
    assert main(["inspect", str(example_model_dir())]) == 0
    out = capsys.readouterr().out
    assert "image: image:0 float32 [-1, 8, 8, 1]" in out and "where it runs" in out


def test_errors_are_reported_not_raised(tmp_path, capsys):
    (tmp_path / "model.json").write_text("{")
    assert main(["inspect", str(tmp_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
