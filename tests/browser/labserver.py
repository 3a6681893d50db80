"""A JupyterLab server for the browser tests: 127.0.0.1, a free port, a token, its own folders.

The server serves a folder of lesson copies (``.ipynb`` written from the jupytext sources
without their pairing, so saving in the browser never touches ``notebooks/*.py``). Its user
settings turn JupyterLab 4's notebook windowing off (cells off-screen would not be rendered,
so their widgets could not be checked), make the widget manager save widget state with the
notebook, and silence the news and update checks. ``expose_app_in_browser`` gives the test
``window.jupyterapp`` to read cell models and kernel status.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyter-widgets/jupyterlab-manager/plugin": {"saveState": True},
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

#: How long the server may take to answer after it starts.
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab; :meth:`stop` ends it (and the kernels it started)."""

    root: Path
    port: int
    token: str
    process: subprocess.Popen
    log: Path

    def url(self, path: str = "lab") -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def open_url(self, notebook: str) -> str:
        """The address that opens ``notebook`` (relative to the root) in a fresh workspace."""
        return f"http://127.0.0.1:{self.port}/lab/tree/{notebook}?reset&token={self.token}"

    def shutdown_kernels(self) -> None:
        req = urllib.request.Request(self.url("api/sessions"))
        with urllib.request.urlopen(req, timeout=10) as resp:
            sessions = json.load(resp)
        for session in sessions:
            urllib.request.urlopen(
                urllib.request.Request(self.url(f"api/sessions/{session['id']}"), method="DELETE"),
                timeout=30,
            ).close()

    def wait_ready(self) -> LabServer:
        """Wait until the server answers (at most START_TIMEOUT_S); fails with its log."""
        return _wait_ready(self)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: the server stops its kernels and exits
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_lab(
    root: Path,
    state: Path,
    *,
    port: int | None = None,
    page_config: dict | None = None,
    wait: bool = True,
) -> LabServer:
    """JupyterLab serving ``root``; settings, workspaces and logs under ``state``; on ``port``,
    else COURSE_JUPYTER_PORT when set, else a free port. With ``wait=False`` it returns at
    once (call :meth:`LabServer.wait_ready` before use): two servers can boot side by side.

    ``page_config`` (e.g. ``{"disabledExtensions": {...}}``) goes into a private Jupyter
    config folder, which is how a learner's ``jupyter labextension disable`` would land.
    """
    settings = state / "settings"
    for plugin, values in SETTINGS.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings))
    env["JUPYTER_RUNTIME_DIR"] = str(state / "runtime")
    env.pop("JUPYTER_TOKEN", None)
    if page_config is not None:
        config = state / "config"
        (config / "labconfig").mkdir(parents=True, exist_ok=True)
        (config / "labconfig" / "page_config.json").write_text(json.dumps(page_config))
        env["JUPYTER_CONFIG_DIR"] = str(config)
    port = port or int(os.environ.get("COURSE_JUPYTER_PORT") or 0) or free_port()
    token = secrets.token_hex(16)
    log = state / "jupyterlab.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={state / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    if os.getuid() == 0:
        cmd.append("--allow-root")
    state.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LabServer(root, port, token, process, log)
    if wait:
        server.wait_ready()
    return server


def _wait_ready(server: LabServer) -> LabServer:
    process, log, port = server.process, server.log, server.port
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with {process.returncode} at start; its log:\n"
                + log.read_text()[-3000:]
            )
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=2) as resp:
                if resp.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(
                f"JupyterLab did not answer on 127.0.0.1:{port} within {START_TIMEOUT_S:.0f} s;"
                f" its log:\n" + log.read_text()[-3000:]
            )
        time.sleep(0.2)
