"""Certified carephones and alarm panels: the receiver protocols they speak.

``integrations.carephones.dc09`` is a pure codec of ANSI/SIA DC-09 (frames, AES, Contact ID
and SIA DCS data); the hub's receiver (``hub.carephones``) adapts it. See docs/carephones.md.
"""
