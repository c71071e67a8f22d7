"""`python -m instamini demo --users N`: a realistic synthetic network in an empty data directory.

Read seed.py first (the phases), then network.py (who follows whom), content.py
(posts, likes, comments), pictures.py (the images), writer.py (the bulk SQL) and
clock.py (the ids of a made-up past).
"""

from .seed import PASSWORD, DemoOptions, DemoRefused, Summary, run_demo, seed

__all__ = ["PASSWORD", "DemoOptions", "DemoRefused", "Summary", "run_demo", "seed"]
