"""Explore: recommended posts from people the viewer does not follow (see service.py)."""
