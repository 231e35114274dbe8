"""The critic's shapes detector on the world's own renders: one object, every world size and shape,
random sub-pixel positions, the four colours on the three backgrounds, at the model's 24×24 frame.

A render counts as right when the detector finds exactly one component, of its colour and shape.

    python benchmarks/shapes_train/detector_renders.py --frames 200      # 1,800 renders, about 10 s
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main(argv=None) -> None:
    from ttom.critic.grounders.shapes import ShapesGrounder
    from ttom.layout import Keyframe, Layout, LayoutObject
    from ttom.shapes import world

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=200, help="renders per size and shape")
    p.add_argument("--size", type=int, default=24, help="frame side in pixels")
    args = p.parse_args(argv)
    det, rng, right = ShapesGrounder(), np.random.default_rng(0), {}
    for s in sorted(world.SIZES.values()):
        for shape in world.SHAPES:
            ok = 0
            for k in range(args.frames):
                cx, cy = rng.uniform(0.2, 0.8, 2)
                box = (cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2)
                color, bg = list(world.COLORS)[k % 4], list(world.BACKGROUNDS)[k % 3]
                lay = Layout(prompt="x", background=bg, objects=[LayoutObject(
                    id=0, name=shape, phrase=f"a {color} {shape}",
                    keyframes=[Keyframe(t=0, box=box), Keyframe(t=1, box=box)])])
                comps = det.components(world.render(lay, 1, args.size))[0]
                ok += [(c.color, c.shape) for c in comps] == [(color, shape)]
            right[f"{s} {shape}"] = ok
    print(json.dumps({"right": right, "total": sum(right.values()), "of": args.frames * len(right)}))


if __name__ == "__main__":
    main()
