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


def _hostile_server():
    """A model server on 127.0.0.1 that misbehaves in the ways a loader must survive."""
    import http.server
    import threading
    import time as _time

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/drip"):
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    for _ in range(400):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        _time.sleep(0.05)
                except OSError:
                    pass
            elif self.path.startswith("/short"):
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"format": ')
                self.close_connection = True
            elif self.path.startswith("/endless"):
                self.send_response(200)
                self.end_headers()
                try:
                    while True:
                        self.wfile.write(b" " * 65536)
                except OSError:
                    pass
            elif self.path.startswith("/elsewhere"):
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{self.server.server_address[1]}/short/model.json")
                self.end_headers()
            elif self.path.startswith("/scheme"):
                self.send_response(302)
                self.send_header("Location", "file:///etc/passwd")
                self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("path,match", [("drip", "took longer"), ("short", "broken HTTP response"),
                                        ("endless", "cap"), ("elsewhere", "another scheme or host"),
                                        ("scheme", "another scheme or host|Redirection")])
def test_hostile_http_servers_give_project_errors_quickly(path, match):
    import time as _time
    from gpu_backend.errors import GPUBackendError
    server = _hostile_server()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{path}/model.json"
        t0 = _time.monotonic()
        with pytest.raises(GPUBackendError, match=match):
            load_graph_model(url, backend="numpy", timeout_s=0.5, max_bytes=1 << 20)
        assert _time.monotonic() - t0 < 10
    finally:
        server.shutdown()
        server.server_close()
