"""inrcodec's video codec (format 1.2 files), on the v1 field and model of v1/.

codec.py encodes a clip and decodes all frames or one; file.py is the file's syntax (bytes only); io.py reads and
writes clips; meta.py trains a video model's residual parameters (`meta-train --video-from`); cli.py holds the
bodies of the video side of `inrcodec encode`, `decode` and `info`. Importing this package is cheap (no torch).
"""
