"""Broker models: one module per channel kind (Pub/Sub, Kafka log, Redis Streams)."""
