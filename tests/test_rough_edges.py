"""Bad input gets a clear project error, never a Python internals error or a hang (issue 12)."""
from pathlib import Path

import pytest

from loader import load_graph_model
from loader.errors import ModelFormatError


def test_deeply_nested_model_json_is_a_format_error_naming_the_file(tmp_path: Path) -> None:
    """A model.json nested 100000 levels deep must not reach json's recursion limit."""
    path = tmp_path / "model.json"
    path.write_text('{"a":' * 100000 + "1" + "}" * 100000)
    with pytest.raises(ModelFormatError, match="model.json") as info:
        load_graph_model(path, "numpy")
    assert "deep" in str(info.value)


def test_unknown_keyword_arguments_are_named():
    from loader import load_graph_model, load_layers_model, load_model
    from loader.cli import example_model_dir
    for fn in (load_graph_model, load_layers_model, load_model):
        with pytest.raises(TypeError, match="some_typo"):
            fn(example_model_dir(), backend="numpy", some_typo=1)


def test_predict_after_dispose_says_so():
    import numpy as np
    from loader import ModelDisposedError, load_graph_model
    from loader.cli import example_model_dir
    model = load_graph_model(example_model_dir())          # owns its GL backend
    x = model.example_inputs()
    model.predict(x)
    model.dispose()
    with pytest.raises(ModelDisposedError, match="disposed"):
        model.predict(x)
    assert np.asarray(x[next(iter(x))]).size


def test_cli_reports_bad_files_in_one_line(tmp_path, capsys):
    from loader.cli import example_model_dir, main
    for argv in (["run", str(example_model_dir()), "--backend", "numpy", "--input", f"x={tmp_path}/missing.npy"],
                 ["run", str(example_model_dir()), "--backend", "numpy", "--out", "/nonexistent/dir/y.npz"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        text = str(exc.value.code)
        assert text.startswith("error:") and "\n" not in text and "Traceback" not in text
