"""The realtime module: one websocket per device, and a hub that pushes frames to users.

Read `frames.py` (what travels on a socket), `hub.py` (who is connected, and the bounded
queue of each socket), then `gateway.py` (the `/ws` handler: handshake, reading and
writing, limits).
"""
