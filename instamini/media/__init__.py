"""The media module: uploads, the processing pipeline in worker processes, and serving.

Read in this order: `sniff.py` (what an upload claims to be), `upload.py` (streaming
to disk under a cap), `records.py` (the tables), `pool.py` and `worker.py` (the
sandboxed processes), `images.py` and `videos.py` (what a worker does), `service.py`
(the job loop), `serve.py` (the bytes, with ETag and Range). In a cluster:
`forwarding.py` (an upload relayed to the uploader's owner) and `peer_files.py`
(another instance's files, through an in-process edge cache).
"""
