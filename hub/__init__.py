"""The hub: ingestion, storage, alarms, API, web pages and signalling."""
