"""Video calls: the call state machine and the hub's WebRTC signalling.

The hub relays offers, answers and ICE candidates between participants and records
each call's states and times, never its content.
"""
