"""The benchmark: the standard scenario is the baseline's, the CLI reports what a run gives."""

import ast
import json

import pytest

import sim
from sim import bench


def test_standard_scenario_has_the_baselines_parameters():
    sc = bench.standard()
    w, log = sc.workload, sc.topology.log
    assert (w.messages, w.rate_per_s, w.arrivals) == (1_000_000, 5000, "poisson")
    assert (w.key_distribution, w.zipf_s, w.keys) == ("zipf", 1.1, 10_000)
    assert log.partitions == 12 and log.linger_ms == 0
    groups = sc.consumers.groups
    assert len(groups) == 2
    for g in groups:
        assert (g.consumers, g.commit, g.service.kind, g.service.mean_ms) == (
            4,
            "after",
            "constant",
            0.25,  # 4,000 msg/s
        )
    subs = sc.consumers.subscribers
    assert [(s.service.kind, s.service.mean_ms) for s in subs] == [("constant", 0.05)] * 3
    window = 1_000_000 / 5000
    assert [(f.kind, f.target, f.start_s, f.duration_s) for f in sc.faults] == [
        ("subscriber_down", "subscriber:0", 0.2 * window, 30.0),
        ("consumer_crash", "group:0:0", 0.2 * window, 30.0),
    ]


def test_standard_scenario_matches_the_baseline_script_when_present():
    if not bench.REFERENCE.is_file():
        pytest.skip(f"the shared baseline is not at {bench.REFERENCE}")
    tree = ast.parse(bench.REFERENCE.read_text())
    const = {
        t.id: eval(compile(ast.Expression(node.value), "naive", "eval"), {"__builtins__": {}})
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name) and t.id.isupper()
    }
    sc = bench.standard()
    assert const["RATE"] == sc.workload.rate_per_s and const["KEYS"] == sc.workload.keys
    assert const["PARTITIONS"] == sc.topology.log.partitions
    assert const["GROUPS"] == len(sc.consumers.groups)
    assert const["CONSUMERS"] == sc.consumers.groups[0].consumers
    assert const["SERVICE_S"] == pytest.approx(sc.consumers.groups[0].service.mean)
    assert const["SUBSCRIBERS"] == len(sc.consumers.subscribers)
    assert const["SUB_SERVICE_S"] == pytest.approx(sc.consumers.subscribers[0].service.mean)
    assert const["DOWN_S"] == sc.faults[0].duration_s == bench.DOWN_S
    assert "ranks ** -1.1" in bench.REFERENCE.read_text()


def test_standard_scales_the_fault_start_with_the_window():
    sc = bench.standard(20_000, down_s=0.6)
    assert sc.workload.messages == 20_000
    assert all(f.start_s == pytest.approx(0.8) and f.duration_s == 0.6 for f in sc.faults)


def test_bench_json_reports_the_runs_checker_totals(capsys):
    assert bench.main(["--messages", "4000", "--repeat", "2", "--json", "--seed", "3"]) == 0
    out = json.loads(capsys.readouterr().out)["sim"]
    report = sim.run(bench.standard(4000), seed=3).report
    assert out["totals"] == report.totals()
    assert out["messages"] == 4000 and len(out["walls_s"]) == 2 and out["peak_rss_mb"] > 0
    assert out["log_processed"] == 2 * 4000  # both groups catch up after the crash
    assert out["pubsub_lost"] == report["subscriber:0"].lost > 0  # the outage bites
    assert out["msgs_per_s"] == pytest.approx(4000 / out["wall_s"], rel=1e-3)


def test_bench_interactive_reports_a_median(capsys):
    assert bench.main(["--interactive", "--runs", "3"]) == 0
    text = capsys.readouterr().out
    assert "interactive variant: 20,000 messages, 3 runs" in text and "median" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--messages", "0"], "--messages must be in [1, 50,000,000], got 0"),
        (["--messages", "many"], "--messages must be an integer in [1, 50,000,000]"),
        (["--repeat", "0"], "--repeat must be in [1, 100], got 0"),
        (["--runs", "-1"], "--runs must be in [1, 10,000], got -1"),
    ],
)
def test_bench_rejects_bad_input_naming_the_parameter(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bench_says_where_the_baseline_should_be(capsys, tmp_path):
    missing = tmp_path / "naive_simpy.py"
    argv = ["--messages", "1000", "--repeat", "1", "--vs-reference", "--reference", str(missing)]
    assert bench.main(argv) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "--reference" in err


def test_bench_runs_the_baseline_in_the_same_invocation(capsys):
    if not bench.REFERENCE.is_file():
        pytest.skip(f"the shared baseline is not at {bench.REFERENCE}")
    assert bench.main(["--messages", "3000", "--repeat", "1", "--vs-reference", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = out["reference"]["output"]
    assert ref["messages"] == 3000 and ref["log"] == out["sim"]["log_processed"] == 6000
    assert out["speedup"] == pytest.approx(out["reference"]["wall_s"] / out["sim"]["wall_s"], 0.01)
