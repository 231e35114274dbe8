"""Object fidelity of a shapes model: single-object captions, plain sampling, the analytic detector.

Issue 13's measure: a video passes when the object is drawn with the right shape and colour,
exactly one object is there, and this holds in at least 90% of the frames. Here: in at least 90%
of the frames the critic's analytic shapes detector finds exactly one coloured component, of the
caption's colour and shape.

It needs no MiniLM: the caption states come from the file that
``python -m ttom.shapes.train precompute`` writes, so it runs on the GPU machine too. The noise of
seed ``s`` is the engine's (``torch.Generator("cpu").manual_seed(s)``), and sampling is the engine's
plain path (Euler flow matching, CFG with the empty caption), batched over captions and seeds.

    python benchmarks/shapes_train/fidelity.py --weights ttom/assets/shapes --states states.safetensors --seeds 8

``--guidance`` and ``--steps`` take comma lists: every combination is measured on the same videos'
noise (one summary line each). Seeds from ``--first-seed``: a sampling setting is chosen on other
seeds (e.g. 100..131) than the ones it is reported on (0..31).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

MIN_FRAMES = 0.9  # the share of frames that must show exactly the one object (issue 13)


def grounder():
    from ttom.critic.grounders.shapes import ShapesGrounder

    return ShapesGrounder()


def judge(frames: np.ndarray, color: str, shape: str, detector=None) -> dict:
    """Per video: ``ok`` (the measure above), the share of good frames and why the others failed."""
    detector = detector or grounder()
    why = Counter()
    good = 0
    for comps in detector.components(frames):
        if not comps:
            why["missing"] += 1
        elif len(comps) > 1:
            why["extra objects"] += 1
        elif comps[0].color != color:
            why["wrong colour"] += 1
        elif comps[0].shape != shape:
            why["wrong shape"] += 1
        else:
            good += 1
    share = good / len(frames)
    return {"ok": share >= MIN_FRAMES, "frames_ok": share, "failures": dict(why)}


def main(argv=None) -> None:
    from diffusers import CogVideoXTransformer3DModel
    from safetensors import safe_open

    from ttom.shapes import world

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, required=True, help="a diffusers model folder")
    p.add_argument("--states", type=Path, required=True, help="from `python -m ttom.shapes.train precompute`")
    p.add_argument("--seeds", type=int, default=8, help="videos per caption (seeds 0..N-1)")
    p.add_argument("--out", type=Path, help="write the per-video results here (JSON)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--first-seed", type=int, default=0, help="seeds first..first+N-1")
    p.add_argument("--guidance", default="4", help="CFG scale(s), comma-separated")
    p.add_argument("--steps", default="20", help="denoising steps, comma-separated")
    args = p.parse_args(argv)

    with safe_open(str(args.states), "pt") as f:
        table = f.get_tensor("states").float()
        captions = json.loads(f.metadata()["captions"])
    prompts = world.all_captions(["object"])
    rows = torch.stack([table[1 + captions.index(c)] for c in prompts])  # row 0 is the empty caption
    empty = table[0]
    net = CogVideoXTransformer3DModel.from_pretrained(args.weights, use_safetensors=True).float().to(args.device).eval()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    detector = grounder()
    runs = []
    for steps in (int(v) for v in args.steps.split(",")):
        for guidance in (float(v) for v in args.guidance.split(",")):
            t0 = time.time()
            frames = sample(net, rows, empty, seeds, steps=steps, guidance=guidance, device=args.device)
            results = []
            for i, caption in enumerate(prompts):
                color, shape = world.caption_spec(caption).objects[0]
                for j, s in enumerate(seeds):
                    r = judge(frames[i * len(seeds) + j], color, shape, detector)
                    results.append({"caption": caption, "seed": s, **r})
            ok = sum(r["ok"] for r in results)
            why = Counter()
            for r in results:
                why.update(r["failures"])
            summary = {"weights": str(args.weights), "steps": steps, "guidance": guidance,
                       "seeds": [seeds[0], seeds[-1]], "videos": len(results), "ok": ok, "rate": ok / len(results),
                       "mean_frames_ok": float(np.mean([r["frames_ok"] for r in results])),
                       "failed_frames_by_reason": dict(why), "seconds": round(time.time() - t0, 1)}
            print(json.dumps(summary), flush=True)
            runs.append({"summary": summary, "videos": results})
    if args.out:
        args.out.write_text(json.dumps(runs[0] if len(runs) == 1 else {"runs": runs}, indent=1))


@torch.no_grad()
def sample(net, rows: torch.Tensor, empty: torch.Tensor, seeds: list[int], steps: int = 20, guidance: float = 4.0,
           device: str = "cpu") -> np.ndarray:
    """Plain generation, one video per (caption states row, seed): uint8 (N·S, F, H, W, 3)."""
    from ttom.shapes import model as shapes_model

    video = shapes_model.VIDEO
    shape = (video["num_frames"], 3, video["height"], video["width"])
    x = torch.cat([torch.randn((1, *shape), generator=torch.Generator("cpu").manual_seed(s))
                   for _ in range(len(rows)) for s in seeds]).to(device)  # (N·S, F, 3, H, W)
    cond = rows.repeat_interleave(len(seeds), 0).to(device)  # (N·S, L, D)
    both = torch.cat([empty.expand_as(cond).to(device), cond])  # uncond first, as the engine
    sched = shapes_model.make_scheduler()
    sched.set_timesteps(steps, device=device)
    for t in sched.timesteps:
        out = net(hidden_states=torch.cat([x, x]), encoder_hidden_states=both,
                  timestep=t.expand(2 * len(x)), return_dict=False)[0].float()
        uncond, c = out.chunk(2)
        x = sched.step(uncond + guidance * (c - uncond), t, x.float(), return_dict=False)[0]
    v = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # (B, F, 3, H, W)
    return v.permute(0, 1, 3, 4, 2).cpu().numpy()


if __name__ == "__main__":
    main()
