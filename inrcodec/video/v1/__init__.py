"""The v1 codec pieces that format 1.2 video files are built on, for decoding them (their encoder was removed; v1
still images are retired: format 2 replaces them), so nothing outside inrcodec.video uses these.

header.py (HEAD, field and LEVEL records), groups.py and laplace_table.npy (the group entropy coder and its
normative tables), context.py (integer contexts), levels.py (a grid in the file), grid.py, mlp.py, inr.py (the
field), metamodel.py (the shipped v1 models' structure) and model.py (loading a model, rendering a frame).
"""
