"""Simulated sensors, a resident's day with injected incidents, and the fleet generator."""
