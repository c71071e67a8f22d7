"""The feed module: home and reels feeds by fan-out on write, with pull and hybrid beside it.

Read in this order: `timelines.py` (what a timeline is in LMDB), `sources.py` (where
entries come from when a timeline is rebuilt or pulled), `fanout.py` (the worker that
pushes a new post into followers' timelines), `service.py` (reading a page under each
strategy), `ranker.py` (the order of a ranked page).
"""
