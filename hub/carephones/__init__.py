"""Certified carephones and alarm panels reporting over SIA DC-09 (docs/carephones.md).

The receiver (TCP and UDP) checks each frame with :mod:`integrations.carephones.dc09`,
maps its events to ``protocol.UnitEvent`` and feeds them into the same ingestion as MQTT
devices (events table, alarm engine, supervision), acknowledging a frame only once its
events are stored.
"""
