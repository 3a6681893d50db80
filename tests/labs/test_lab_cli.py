"""The labs' command line: list, run NAME --param value, --json."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from labs.__main__ import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "labs", *args], capture_output=True, text=True, timeout=60
    )


def test_list_shows_every_lab(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in (
        "loss",
        "replay",
        "hot_partitions",
        "idempotency",
        "ordering",
        "backpressure",
        "poison",
        "streams",
        "hybrid",
    ):
        assert f"{name}:" in out


def test_bad_parameter_value_names_the_parameter(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "loss", "--down-for-s", "99"])
    assert exc.value.code == 2
    assert '"down_for_s"' in capsys.readouterr().err


def test_unknown_parameter_is_rejected(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "loss", "--no-such-param", "1"])
    assert exc.value.code == 2


@pytest.mark.brokers
def test_run_loss_json_parses():
    proc = run_cli("run", "loss", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["name"] == "loss"
    rows = {row["reader"]: row for row in data["report"]}
    assert rows["group:0"]["lost"] == 0
    assert rows["subscriber:0"]["lost"] > 0
    assert data["settings"]["kafka.acks"] == "all"


@pytest.mark.brokers
def test_run_prints_table_and_settings():
    proc = run_cli(
        "run", "hot-partitions", "--key-distribution", "uniform", "--window-s", "0.5", "--seed", "3"
    )
    assert proc.returncode == 0, proc.stderr
    assert "reader" in proc.stdout and "acknowledged" in proc.stdout
    assert "settings:" in proc.stdout and "kafka.partitions = 6" in proc.stdout
    assert "seed=3" in proc.stdout
