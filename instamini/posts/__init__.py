"""The posts module: photos, carousels and reels, with likes, comments and saves.

Read in this order: `migrations.py` (the tables and why each lives where it
does), `text.py` (hashtags and mentions), `records.py` (the SQL of a post's
writes), `service.py` (a post's life and the batched hydration of pages),
`reactions.py` (likes and saves), `comments.py` (one level of replies), then
`routes.py` and `views.py` (HTTP).
"""
