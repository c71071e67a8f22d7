"""The messages module: direct and group threads, with photos, shared posts and read receipts.

Read in this order: `migrations.py` (the tables and which shard holds each),
`index.py` (each user's list of threads on their own shard, and its outbox),
`records.py` (the thread-side SQL), `attachments.py` (photos sent in messages),
`reading.py` (what one viewer sees), `service.py` (the rules of every change:
folders, blocks, pushes, events), then `routes.py` and `views.py`.
"""
