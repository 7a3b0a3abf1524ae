"""Batch inference on a local Ray cluster this module starts (127.0.0.1, 2 CPUs, llvmpipe per actor):
predict_dataset and `gpu-backend batch` give exactly single-process predict's outputs for every input,
keyed by id; reruns skip what was written; a worker killed mid-run is replaced with nothing lost or
written twice."""
from __future__ import annotations

import logging

import numpy as np
import pytest

try:
    import ray
    import ray.data
except ImportError as exc:       # any import failure, not only a missing module
    pytest.skip(f"Ray Data is not importable ({exc}): pip install -e '.[ray]' (make test installs it)",
                allow_module_level=True)

from loader import load_model  # noqa: E402
from loader.batch import CRASH_MARKER_ENV, CRASH_ON_BATCH_ENV, read_parquet_outputs, run_batch  # noqa: E402
from loader.cli import example_model_dir, main  # noqa: E402
from loader.distributed import dataset_from_arrays, predict_dataset  # noqa: E402

pytestmark = pytest.mark.slow
MODEL = example_model_dir()


@pytest.fixture(scope="module", autouse=True)
def cluster():
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, object_store_memory=200 << 20, include_dashboard=False, _node_ip_address="127.0.0.1",
             logging_level=logging.WARNING, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    with np.load(MODEL / "inputs.npz") as z:
        x = z[z.files[0]]
    rng = np.random.default_rng(0)
    return np.concatenate([x, x + rng.normal(0, 0.5, x.shape).astype(np.float32)])       # 32 samples


@pytest.fixture(scope="module")
def reference(gl, digits):
    """Single-process predict, one input at a time."""
    model = load_model(MODEL, backend=gl)
    out = np.concatenate([model.predict(digits[i:i + 1])[model.outputs[0].name] for i in range(len(digits))])
    model.dispose()
    return out


def write_inputs(folder, x) -> list[str]:
    folder.mkdir()
    ids = [f"digit_{i:02d}" for i in range(len(x))]
    for key, sample in zip(ids, x):
        np.save(folder / f"{key}.npy", sample)
    return ids


def test_predict_dataset_matches_single_process_predict(digits, reference, tmp_path):
    ids = [f"row{i}" for i in range(len(digits))][::-1]           # ids are not the row order
    ds = dataset_from_arrays(digits, ids=ids, column="pixels", rows_per_block=8)
    cache = tmp_path / "shader-cache"
    out = predict_dataset(MODEL, ds, batch_size=8, num_workers=2, shader_cache_dir=cache, worker_column="worker")
    got = {}
    for b in out.iter_batches(batch_format="numpy", batch_size=None):
        assert set(b) == {"id", "probs", "worker"}
        got.update(zip(b["id"].tolist(), b["probs"]))
    assert sorted(got) == sorted(ids)
    for i, key in enumerate(ids):
        np.testing.assert_array_equal(got[key], reference[i])
    assert any(cache.rglob("*")), "the workers' shader cache folder stayed empty: MESA_SHADER_CACHE_DIR not applied"


def test_predict_dataset_needs_an_id_column(digits):
    ds = ray.data.from_numpy(digits)
    with pytest.raises(ValueError, match="no id column 'id'"):
        predict_dataset(MODEL, ds, batch_size=8)


def test_batch_command_writes_every_output_and_resumes(digits, reference, tmp_path, capsys):
    ids = write_inputs(tmp_path / "in", digits)
    out = tmp_path / "out"
    argv = ["batch", str(MODEL), str(tmp_path / "in"), str(out), "--workers", "2", "--batch-size", "4",
            "--no-progress", "--summary-json", str(tmp_path / "s.json")]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "32 written, 0 skipped" in text and "inputs/s" in text
    for i, key in enumerate(ids):
        with np.load(out / f"{key}.npz") as z:
            assert z.files == ["probs"]
            np.testing.assert_array_equal(z["probs"], reference[i])
    # resumable: nothing to do, then only what is missing
    assert main(argv) == 0 and "nothing to do: all 32 inputs" in capsys.readouterr().out
    for key in ids[5:8]:
        (out / f"{key}.npz").unlink()
    (out / ".digit_00.dead.tmp").write_bytes(b"half")        # left by a killed run
    assert main(argv) == 0 and "3 written, 29 skipped" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{k}.npz" for k in ids)


def test_a_worker_killed_mid_run_is_replaced_nothing_lost_or_written_twice(digits, reference, tmp_path,
                                                                         monkeypatch):
    ids = write_inputs(tmp_path / "in", digits)
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ON_BATCH_ENV, "3")        # a worker os._exit()s on its third batch, once
    monkeypatch.setenv(CRASH_MARKER_ENV, str(marker))
    summary = run_batch(str(MODEL), tmp_path / "in", tmp_path / "out", workers=2, batch_size=2, progress=False)
    assert marker.exists(), "no worker was killed"
    assert summary.written == 32 and summary.duplicates == 0
    assert sorted(summary.written_ids) == sorted(ids)                 # each exactly once
    assert len(summary.per_worker) >= 2                               # the replacement has a new pid
    for i, key in enumerate(ids):
        with np.load(tmp_path / "out" / f"{key}.npz") as z:
            np.testing.assert_array_equal(z["probs"], reference[i])


def test_parquet_output(digits, reference, tmp_path):
    ids = write_inputs(tmp_path / "in", digits[:12])
    summary = run_batch(str(MODEL), tmp_path / "in", tmp_path / "out", workers=1, batch_size=4, fmt="parquet",
                        progress=False)
    assert summary.written == 12
    got = read_parquet_outputs(tmp_path / "out")
    assert sorted(got) == ids
    for i, key in enumerate(ids):
        np.testing.assert_array_equal(got[key]["probs"], reference[i])
    again = run_batch(str(MODEL), tmp_path / "in", tmp_path / "out", workers=1, batch_size=4, fmt="parquet",
                      progress=False)
    assert again.written == 0 and again.skipped == 12
