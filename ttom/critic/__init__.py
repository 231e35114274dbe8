"""The critic: find the layout's objects in a video, score them, decide what the graph does next.

- ``grounders/``: the backends that find objects (GroundingDINO + SAM2 through transformers, the
  ``sam2`` package, the analytic shapes detector), behind ``grounders.base.VideoGrounder``;
- ``metrics``: per-object IoU, presence, counts, directions, relations; the overlay picture;
- ``prompt_facts``: what the prompt itself states (counts, relations, directions);
- ``policy``: the decision (accept / reoptimize / repair) with its reasons and targets;
- ``critique``: ``critique()`` and ``critique_file()``, what the graph and ``ttom critic`` call;
- ``config``: the thresholds.
"""
