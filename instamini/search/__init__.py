"""Search: people and hashtags by what someone types, and the posts of a hashtag."""
