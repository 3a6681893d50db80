"""The broker stack: real Redis and real Apache Kafka for the labs, tests and notebooks.

``python -m labs.stack up|down|status|logs|reset`` -- see :mod:`labs.stack.cli`.
"""

from labs.stack.config import KAFKA_VERSION, Endpoints, endpoints

__all__ = ["KAFKA_VERSION", "Endpoints", "endpoints"]
