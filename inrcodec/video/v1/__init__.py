"""The v1 codec pieces that video files (format 1.2) are built on; v1 still images are retired (format 2 replaces
them), so nothing outside inrcodec.video uses these.

header.py (HEAD, field and LEVEL records), groups.py and laplace_table.npy (the group entropy coder and its
normative tables), context.py (integer contexts), levels.py (a grid in the file), grid.py, mlp.py, inr.py (the
field), metamodel.py (the shipped v1 model), analysis.py, fewstep.py, quant.py (the encoder's fit) and model.py
(loading a model, analysing and rendering a frame).
"""
