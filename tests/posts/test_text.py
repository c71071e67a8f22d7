"""Hashtags and mentions as text.py finds them."""

from __future__ import annotations

from instamini.posts.text import hashtags, mentioned_names, normal_tag


def test_hashtags_are_unicode_words_in_lower_case_once_each():
    text = "#Café au lait #café #東京 #snake_case #2024 #1 a#glued &#39; ##double #end."
    assert hashtags(text, 30) == ["café", "東京", "snake_case", "end"]
    assert hashtags("#a #b #c #d", 2) == ["a", "b"]
    assert hashtags("#" + "x" * 100 + " #" + "y" * 101, 30) == ["x" * 100]
    assert normal_tag("#Cats") == normal_tag("cats") == "cats"


def test_mentions_are_possible_usernames():
    text = "@Bob, @carol. @d.e_f @.dot @a..b @api @bob bob@mail.com @" + "n" * 31 + " @x"
    assert mentioned_names(text, 20) == ["bob", "carol", "d.e_f", "x"]
    assert mentioned_names("@a @b @c", 2) == ["a", "b"]
    assert mentioned_names("(@paren) @under_score!", 20) == ["paren", "under_score"]
