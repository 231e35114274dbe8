"""This machine's speed on the bundled model's two units of work, so that wall times of different days compare.

A round of ``ttom generate`` on the shapes model costs about (TTO iterations) x (one iteration) + (denoising
steps) x (one CFG step); the same code ran 2x slower on one day's CPU than on another's. This prints, as JSON,
the median of ``--repeat`` timings of each unit on the README example's layout (seed 0, the shipped recipe):

    python benchmarks/shapes_train/cpu_reference.py [--weights DIR] [--recipe TTOM_JSON]

``cfg_step_s``: one denoising step's guided prediction (the batch-2 forward and the guidance sum; the Euler
update after it is one multiply-add), φ off;
``tto_iteration_s``: one TTO iteration (the truncated forward, the backward into φ, the AdamW step).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

PROMPT = "a red circle moving right and a blue square moving left"


def load(folder: Path | None):
    import torch

    from ttom.engine.backends.shapes import load_shapes_backend

    return load_shapes_backend(torch.device("cpu"), torch.float32, folder)


def measure(backend, repeat: int = 5) -> dict:
    """The median seconds of each unit on ``backend`` (a CPU shapes backend), which it leaves as it found it."""
    import torch

    from ttom.engine.tto import TTOSession, recipe_config
    from ttom.planning.offline import plan_offline

    layout = plan_offline(PROMPT)
    spec = backend.defaults.video
    extra = backend.forward_kwargs(spec)
    cond = backend.encode_prompt(layout.generation_prompt()).embeds
    both = torch.cat([backend.encode_prompt("").embeds, cond])
    latents = backend.prepare_latents(spec, torch.Generator("cpu").manual_seed(0))
    backend.scheduler.set_timesteps(backend.defaults.steps)
    t = backend.scheduler.timesteps[0]  # the first step's timestep, for both units

    def cfg_step():
        with torch.no_grad():
            u, c = backend.predict(torch.cat([latents] * 2), t, both, extra).float().chunk(2)
            return u + backend.defaults.guidance_scale * (c - u)

    session = TTOSession(backend, layout, spec, recipe_config(backend, loss_threshold=0.0, iterations=1), None)
    try:
        def tto_iteration():
            session.optimise(latents, t, cond, extra)

        out = {}
        for name, fn in (("cfg_step_s", cfg_step), ("tto_iteration_s", tto_iteration)):
            fn()  # warm-up
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            out[name] = round(statistics.median(times), 4)
    finally:
        session.close()
    out["threads"] = torch.get_num_threads()
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, help="a diffusers folder (default: the package's)")
    ap.add_argument("--recipe", type=Path, help="a ttom.json to use with them (default: the folder's own)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    if args.recipe is None:
        print(json.dumps(measure(load(args.weights), args.repeat)))
        return
    from ttom.shapes.model import ASSET_DIR

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for f in ("config.json", "diffusion_pytorch_model.safetensors"):
            shutil.copy((args.weights or ASSET_DIR) / f, folder / f)
        shutil.copy(args.recipe, folder / "ttom.json")
        print(json.dumps(measure(load(folder), args.repeat)))


if __name__ == "__main__":
    main()
