"""The notifications module: likes, comments, follows, requests, mentions and messages, stored and pushed live.

Read in this order: `migrations.py` (the table, and why a group is one row), `rules.py`
(who is told what about each event), `store.py` (the SQL of each change, with the
unread counter in the same transaction), `service.py` (the ordered queue that listeners
feed, the reads of the API, the live push), `text.py` (the sentences), then `routes.py`
and `views.py` (HTTP).
"""
