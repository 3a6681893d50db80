"""The transactions experiment: a transactional producer commits some transactions and aborts
others; ``read_committed`` readers never see an aborted record, ``read_uncommitted`` ones do.

Declared once here: the lab's parameters (:data:`PARAMS`). Lab:
:func:`labs.transactions.run_transactions`; lesson: ``17_compaction_and_outbox``. Theory:
with ``a`` of ``t`` transactions aborted, ``n`` records each, a ``read_committed`` reader
reads ``(t - a) n`` records and a ``read_uncommitted`` one all ``t n``; every transaction
also leaves one control record (its commit or abort marker) in each partition it wrote to,
which takes an offset but is never returned to the application.
"""

from __future__ import annotations

from labs.experiments.base import Experiment
from labs.params import Bound, Param, Params

PARAMS = Params(
    (
        Param("transactions", 10, "transactions the producer runs", 1, 200),
        Param("records_per_transaction", 10, "records written in each transaction", 1, 500),
        Param("aborted", 3, "transactions aborted (which ones: drawn from the seed)", 0, 200),
        Param("partitions", 2, "partitions of the topic", 1, 8),
    ),
    (Bound("aborted", "at most transactions", high=lambda v: v["transactions"]),),
)


TRANSACTIONS = Experiment(
    name="transactions",
    summary="read_committed hides aborted transactions; read_uncommitted returns them",
    params=PARAMS,
    lab="labs.transactions:run_transactions",
    lesson="17_compaction_and_outbox",
    theory="read_committed reads (t - a) n records, read_uncommitted t n",
)
