"""Why a media file was refused, raised inside a worker and carried back to the server.

`MediaRejected` is the one exception the processing functions raise on purpose: its
message is shown to the uploader as the job's `reason`, so it must say what is wrong
in plain words ("not an allowed image format: TIFF") and never echo file contents.
Anything else a worker raises is a bug or a hostile file we did not foresee; the pool
reports it by exception type only.
"""

from __future__ import annotations


class MediaRejected(Exception):
    """The file is not something we will process; the message is the user-facing reason."""
