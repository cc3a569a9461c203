"""Integrations with systems outside Teleassist."""
