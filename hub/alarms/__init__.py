"""Alarm handling in the hub: the engine behind ingestion, timers, REST API and live socket."""
