"""Small, explainable models trained from what people do: the feed ranker, the spam filter, perceptual hashes."""
