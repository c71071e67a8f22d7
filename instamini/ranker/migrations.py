"""Tables of the ranker module (the runner creates them on every shard).

    ranker_examples  labelled impressions, on the VIEWER's shard: what was shown
                     (surface, item), the features as they were then (a msgpack
                     map, so adding a feature later does not break old rows), and
                     whether the viewer interacted (label 1) or not (0). The trainer
                     keeps the newest `[ranker] max_examples` in all.
    ranker_weights   the current model (one row, id 1), on shard 0 only.
"""

MIGRATIONS = [
    """
    CREATE TABLE ranker_examples (
        id INTEGER PRIMARY KEY,
        viewer_id INTEGER NOT NULL,
        surface TEXT NOT NULL,
        item_id INTEGER NOT NULL,
        label INTEGER NOT NULL,
        features BLOB NOT NULL,
        shown_ms INTEGER NOT NULL
    );
    CREATE TABLE ranker_weights (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        model BLOB NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    """,
]
