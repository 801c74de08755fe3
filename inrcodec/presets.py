"""Encoder settings a user picks: quality levels and effort presets. Torch-free, so `--help` stays fast."""

# Quality q in 1..8 -> lambda (weight of bits per pixel against MSE on [0, 1] RGB); higher q = better image.
QUALITY_LAMBDAS = {1: 2.0e-2, 2: 1.0e-2, 3: 5.0e-3, 4: 2.5e-3, 5: 1.25e-3, 6: 6.0e-4, 7: 3.0e-4, 8: 1.5e-4}
# Fit steps without a model (self-contained files) and with one (the first `meta_steps` are the model's
# Meta-SGD steps, the rest Adam refinement).
PRESET_STEPS = {"fast": 100, "medium": 300, "slow": 800}
MODEL_PRESET_STEPS = {"fast": 50, "medium": 150, "slow": 400}
DEFAULT_MODEL = "default"  # encode with the manifest's default model; None = a self-contained file
DEFAULT_PRESET = "medium"
DEFAULT_QUALITY = 5
# Video: fit steps of a group's first frame and of each later frame (a residual from the frame before).
VIDEO_PRESET_STEPS = {"fast": (50, 25), "medium": (150, 60), "slow": (400, 150)}
DEFAULT_GOP = 16  # frames per group: the first is coded whole, so decoding frame k reads at most 16 grids
