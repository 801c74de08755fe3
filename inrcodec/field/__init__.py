"""The normative field of codec v2 (synthesis.py): latent grids -> pixels. Knows nothing of bytes. The v1 field of
video files is inrcodec.video.v1 (grid.py, mlp.py, inr.py)."""
