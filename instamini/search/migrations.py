"""Tables of the search module, on every shard: full-text indexes kept exact by triggers.

    people_index   FTS5 (username, display_name), rowid = user id, for the users whose
                   row lives on this shard
    tag_counts     (tag, posts): how many public posts of THIS shard carry each hashtag (posts
                   live on their author's shard, so a tag's total is the sum over shards,
                   taken at query time); rows that drop to 0 stay, filtered out on read
    tag_index      FTS5 (tag), rowid = tag_counts.rowid: the words of each tag

Both FTS5 tables use the unicode61 tokenizer with `remove_diacritics 2`: tokens are
runs of letters and digits of any script, compared without case or accents. Since
migration 2 they also keep prefix indexes for the first 1 to 6 characters of every
token: without them, a prefix query ("us*") merges the lists of every distinct word
that starts so (thousands of usernames), about 5 ms per shard at 12,500 people;
with them, one list: 0.4 ms. The price is a larger index (each token is stored up
to seven times).

The idea: the indexes are derived from the `users` and `post_tags` tables of the
accounts and posts modules, and SQL triggers on those tables keep them in step in the
same transaction as the change, so they are exact without the other modules' code
knowing about search. The modules are migrated in module order, so those tables exist
here; the last statements index the rows written before this module was switched on.

Cost: per registration or rename one FTS5 row; per hashtag of a post created or
deleted one counter update (and one FTS5 row the first time a shard sees the tag).
"""

_FTS = "tokenize = 'unicode61 remove_diacritics 2'"
# SQL: is the post (its id in the braces) by a private account? Posts live on their author's shard.
_PRIVATE_POST = "SELECT 1 FROM posts AS p JOIN users AS u ON u.id = p.author_id WHERE p.id = {} AND u.private"

MIGRATIONS = [
    f"""
    CREATE VIRTUAL TABLE people_index USING fts5(username, display_name, {_FTS});
    CREATE TABLE tag_counts (
        tag TEXT PRIMARY KEY,
        posts INTEGER NOT NULL DEFAULT 0
    );
    CREATE VIRTUAL TABLE tag_index USING fts5(tag, {_FTS});

    CREATE TRIGGER search_user_added AFTER INSERT ON users BEGIN
        INSERT INTO people_index (rowid, username, display_name) VALUES (NEW.id, NEW.username, NEW.display_name);
    END;
    CREATE TRIGGER search_user_renamed AFTER UPDATE OF username, display_name ON users BEGIN
        DELETE FROM people_index WHERE rowid = OLD.id;
        INSERT INTO people_index (rowid, username, display_name) VALUES (NEW.id, NEW.username, NEW.display_name);
    END;
    CREATE TRIGGER search_user_removed AFTER DELETE ON users BEGIN
        DELETE FROM people_index WHERE rowid = OLD.id;
    END;

    CREATE TRIGGER search_tag_added AFTER INSERT ON post_tags BEGIN
        INSERT INTO tag_counts (tag, posts) SELECT NEW.tag, 0
            WHERE NOT EXISTS (SELECT 1 FROM tag_counts WHERE tag = NEW.tag);
        UPDATE tag_counts SET posts = posts + 1 WHERE tag = NEW.tag;
    END;
    CREATE TRIGGER search_tag_removed AFTER DELETE ON post_tags BEGIN
        UPDATE tag_counts SET posts = posts - 1 WHERE tag = OLD.tag;
    END;
    CREATE TRIGGER search_tag_indexed AFTER INSERT ON tag_counts BEGIN
        INSERT INTO tag_index (rowid, tag) VALUES (NEW.rowid, NEW.tag);
    END;

    INSERT INTO people_index (rowid, username, display_name) SELECT id, username, display_name FROM users;
    INSERT INTO tag_counts (tag, posts) SELECT tag, count(*) FROM post_tags GROUP BY tag;
    """,
    f"""
    DROP TABLE people_index;
    CREATE VIRTUAL TABLE people_index USING fts5(username, display_name, {_FTS}, prefix = '1 2 3 4 5 6');
    INSERT INTO people_index (rowid, username, display_name) SELECT id, username, display_name FROM users;
    DROP TABLE tag_index;
    CREATE VIRTUAL TABLE tag_index USING fts5(tag, {_FTS}, prefix = '1 2 3 4 5 6');
    INSERT INTO tag_index (rowid, tag) SELECT rowid, tag FROM tag_counts;
    """,
    # 3: only public accounts' posts count. Counting a private account's posts showed its
    # hashtags (words of its captions) and their number in everyone's search; a private
    # post's tag now gets its row at 0 (kept off the results by `posts > 0`), and the
    # counts move when an account goes private or public (cost: one count per tag of its posts).
    f"""
    DROP TRIGGER search_tag_added;
    DROP TRIGGER search_tag_removed;
    CREATE TRIGGER search_tag_added AFTER INSERT ON post_tags BEGIN
        INSERT INTO tag_counts (tag, posts) SELECT NEW.tag, 0
            WHERE NOT EXISTS (SELECT 1 FROM tag_counts WHERE tag = NEW.tag);
        UPDATE tag_counts SET posts = posts + 1 WHERE tag = NEW.tag AND NOT EXISTS ({_PRIVATE_POST.format("NEW.post_id")});
    END;
    CREATE TRIGGER search_tag_removed AFTER DELETE ON post_tags BEGIN
        UPDATE tag_counts SET posts = posts - 1 WHERE tag = OLD.tag AND NOT EXISTS ({_PRIVATE_POST.format("OLD.post_id")});
    END;
    CREATE TRIGGER search_tags_follow_privacy AFTER UPDATE OF private ON users WHEN OLD.private != NEW.private BEGIN
        UPDATE tag_counts SET posts = posts + (CASE WHEN NEW.private THEN -1 ELSE 1 END) * (
            SELECT count(*) FROM post_tags AS t JOIN posts AS p ON p.id = t.post_id
            WHERE p.author_id = NEW.id AND t.tag = tag_counts.tag
        ) WHERE tag IN (SELECT t.tag FROM post_tags AS t JOIN posts AS p ON p.id = t.post_id WHERE p.author_id = NEW.id);
    END;
    UPDATE tag_counts SET posts = (
        SELECT count(*) FROM post_tags AS t WHERE t.tag = tag_counts.tag AND NOT EXISTS ({_PRIVATE_POST.format("t.post_id")})
    );
    """,
]
