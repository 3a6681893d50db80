"""Adding partitions to a live topic on the real broker: the keys that move are exactly the
ones murmur2 predicts (``hash mod N != hash mod M``). A missing broker fails these tests."""

from __future__ import annotations

import pytest

from labs.partitioners import run_add_partitions

pytestmark = pytest.mark.brokers


@pytest.mark.parametrize(("before", "after"), [(6, 8), (6, 12), (3, 4)])
def test_the_keys_that_move_are_exactly_murmur2s_prediction(before, after):
    r = run_add_partitions(before=before, after=after, num_keys=300)
    assert r.moved == r.expected_moved, r
    assert 0 < r.moved < r.keys, r  # some keys keep their partition, many do not
    # the share is near 1 - gcd/after for 300 evenly hashed keys (binomial sd <= 0.03)
    assert abs(r.moved / r.keys - r.theory_share) < 0.1, r
    assert r.seconds < 45


def test_bad_parameters_name_the_parameter():
    with pytest.raises(ValueError, match='"after"'):
        run_add_partitions(before=6, after=6)
    with pytest.raises(ValueError, match='"before"'):
        run_add_partitions(before=0)
    with pytest.raises(ValueError, match='"num_keys"'):
        run_add_partitions(num_keys=0)
