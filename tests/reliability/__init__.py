"""Reliability tests: what the system does when things go wrong or people try what they may not."""
