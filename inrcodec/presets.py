"""Encoder settings a user picks: quality levels and effort presets. Torch-free, so `--help` stays fast."""

# Quality q in 1..8 -> lambda (weight of bits per pixel against MSE on [0, 1] RGB); higher q = better image.
QUALITY_LAMBDAS = {1: 2.0e-2, 2: 1.0e-2, 3: 5.0e-3, 4: 2.5e-3, 5: 1.25e-3, 6: 6.0e-4, 7: 3.0e-4, 8: 1.5e-4}
# Refinement steps of the v2 image encoder after the analysis network's prediction (latents and modulation):
# as many as fit the time budgets (fast <= 10 s, medium <= 40 s per Kodak image on a 2-core CPU) with
# a margin; one step at 768x512 takes 0.24-0.31 s on two threads (eval/results/v2/refine_step.json).
IMAGE_PRESET_STEPS = {"fast": 16, "medium": 90, "slow": 300}
DEFAULT_PRESET = "medium"
DEFAULT_QUALITY = 5
DEFAULT_MODEL = "default"  # the manifest's default model
# Video format 1.2 (decoded only; on the v1 field): the model that inrcodec 0.2 coded it with.
VIDEO_MODEL = "base-v1"
# Video v2 (format 2.3): (intra frames, predicted frames) refinement steps. Not yet tuned by measurement: the
# intra frames take the image presets' steps, the predicted frames fewer (they start from their prediction).
CLIP_PRESET_STEPS = {"fast": (16, 16), "medium": (90, 30), "slow": (300, 90)}
CLIP_GROUP = 16
CLIP_RESIDUAL_OFFSET = 60  # the residual's context rate code below the frame's (eval/results/video-v2/)
CLIP_LAYER_LAMBDA = 1.25  # lambda's factor per temporal layer (eval/results/video-v2/)
DEFAULT_GOP = 16  # frames per group: the first is coded whole, so decoding frame k reads at most 16 grids
