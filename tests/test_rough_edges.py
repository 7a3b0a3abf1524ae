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
