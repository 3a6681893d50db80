"""The broker stack: real Redis and real Apache Kafka for the labs, tests and notebooks.

``python -m labs.stack up|down|status|logs|reset|exec`` -- see :mod:`labs.stack.cli`.
"""

from labs.stack.config import KAFKA_VERSION, Endpoints, endpoints
from labs.stack.prereqs import StackError

__all__ = ["KAFKA_VERSION", "Endpoints", "StackError", "endpoints", "status", "roundtrip"]


def status():
    """Reachability and version of both brokers, as :class:`~labs.stack.probe.Health` rows."""
    from labs.stack.cli import status as _status

    return _status()


def roundtrip(payload: str = "hello, events"):
    """One message through Redis Pub/Sub and one through Kafka (see :mod:`labs.stack.smoke`)."""
    from labs.stack.smoke import roundtrip as _roundtrip

    return _roundtrip(payload)
