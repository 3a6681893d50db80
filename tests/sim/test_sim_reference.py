"""The vectorised engine equals a one-event-per-message SimPy run on small inputs."""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.reference import run_reference


@settings(
    max_examples=int(os.environ.get("SIM_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(
    rate=st.floats(20, 300),
    partitions=st.integers(1, 4),
    consumers=st.integers(1, 3),
    assignment=st.sampled_from(["range", "roundrobin"]),
    kind=st.sampled_from(["constant", "exponential"]),
    mean_ms=st.floats(0.5, 20),
    subscribers=st.integers(0, 2),
    down=st.lists(st.tuples(st.floats(0, 2), st.floats(0, 1)), max_size=2),
    poison=st.sampled_from([0.0, 0.05]),
    seed=st.integers(0, 10_000),
)
def test_fast_path_equals_per_message_run(
    rate, partitions, consumers, assignment, kind, mean_ms, subscribers, down, poison, seed
):
    service = {"kind": kind, "mean_ms": mean_ms}
    sc = sim.Scenario.from_dict(
        {
            "workload": {
                "rate_per_s": rate,
                "duration_s": 2,
                "keys": 20,
                "poison_fraction": poison,
            },
            "topology": {"log": {"partitions": partitions}},
            "consumers": {
                "subscribers": [{"service": service} for _ in range(subscribers)],
                "groups": [{"consumers": consumers, "assignment": assignment, "service": service}],
            },
            "faults": [["subscriber_down", "subscriber:0", s, d] for s, d in down if subscribers],
            "drain_s": 1,
        }
    )
    fast = sim.run(sc, seed=seed).history
    ref = run_reference(sc, seed=seed)
    for r in ref.readers:
        f = fast.reader(r.name)
        order = np.lexsort((r.ids, r.times))
        forder = np.lexsort((f.ids, f.times))
        np.testing.assert_array_equal(f.ids[forder], r.ids[order], err_msg=r.name)
        np.testing.assert_allclose(f.times[forder], r.times[order], atol=1e-9, err_msg=r.name)
