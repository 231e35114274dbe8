"""Training the bundled shapes model (rectified flow on the shapes world).

Two steps, so the text encoder never has to run on the training machine:

    python -m ttom.shapes.train precompute --out states.safetensors     # CPU, once: MiniLM states
    python -m ttom.shapes.train fit --states states.safetensors --out DIR --minutes 8   # GPU

Captions: a scene of a compositional category (position, motion, count, relation, two moving
objects) is trained with its full caption with probability ``--full-captions`` (default 0.2) and
otherwise with the caption that only names its objects (``world.object_caption``: "a red circle"
for "a red circle moving left", "red circles" for "three red circles"), as web captions rarely
describe a layout; so the model learns to draw objects from every scene but hears the layout words
in a fifth of the compositional ones. ``precompute`` encodes every caption either way can use
(``world.training_captions()``).

``fit`` samples scenes on the CPU in background threads (geometry only: about 50 ms for 256
scenes, under the model step's 0.3 s at batch 256 on an H100), renders them on the GPU in one vectorised pass, and trains with bf16 autocast:
x_t = (1 − σ)·x0 + σ·ε with σ logit-normal, target ε − x0, timestep 1000·σ, 10% empty captions
for classifier-free guidance, AdamW with warm-up and cosine decay, and an EMA of the weights,
which is what is saved (fp16 safetensors, diffusers layout). ``--resume DIR`` continues from
saved weights. A JSON log of the run (loss curve, throughput, device) is written beside them.
"""

from __future__ import annotations

import argparse
import json
import math
import queue
import threading
import time
from pathlib import Path

import numpy as np
import torch

from ttom.shapes import model as shapes_model
from ttom.shapes import world


def precompute(out: Path) -> None:
    from safetensors.torch import save_file

    captions = world.training_captions()
    states = shapes_model.caption_states(["", *captions]).half()  # row 0: the empty caption
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({"states": states.contiguous()}, str(out),
              metadata={"captions": json.dumps(captions), "text_len": str(shapes_model.TEXT_LEN)})
    print(f"wrote {out}: {tuple(states.shape)} for {len(captions)} captions + the empty one")


def _batches(batch: int, seed: int, stop: threading.Event, q: queue.Queue) -> None:
    rng = np.random.default_rng(seed)
    while not stop.is_set():
        b = world.sample_batch(batch, rng)
        while not stop.is_set():
            try:
                q.put(b, timeout=0.5)
                break
            except queue.Full:
                continue


def fit(args) -> None:
    from safetensors import safe_open

    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    with safe_open(str(args.states), "pt") as f:
        states = f.get_tensor("states").to(device)
        meta = f.metadata()
    if json.loads(meta["captions"]) != world.training_captions():
        raise SystemExit("the states file was made for a different caption grammar; run precompute again")
    if not 0.0 <= args.full_captions <= 1.0:
        raise SystemExit(f"--full-captions is a probability in [0, 1], got {args.full_captions}")
    object_ids, compositional = caption_mix_tables(device)

    net = shapes_model.build_transformer()
    if args.resume:
        from diffusers import CogVideoXTransformer3DModel

        net = CogVideoXTransformer3DModel.from_pretrained(args.resume, use_safetensors=True)
    net = net.to(device).float().train()
    ema = {k: v.detach().clone().float() for k, v in net.state_dict().items()}
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    step_fn = torch.compile(net) if args.compile else net
    n_params = sum(p.numel() for p in net.parameters())
    print(f"shapes model: {n_params / 1e6:.2f} M parameters on {device}", flush=True)

    stop = threading.Event()
    q: queue.Queue = queue.Queue(maxsize=16)
    for i in range(args.workers):
        threading.Thread(target=_batches, args=(args.batch, args.seed * 100 + i, stop, q), daemon=True).start()

    video = shapes_model.VIDEO
    log = {"params": n_params, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
           "batch": args.batch, "lr": args.lr, "full_captions": args.full_captions, "uncond": args.uncond,
           "resume": str(args.resume) if args.resume else None, "compile": args.compile, "seed": args.seed,
           "curve": []}
    out = Path(args.out)
    last_save = time.time()
    t_start = time.time()
    budget = args.minutes * 60
    step, running = 0, None
    try:
        while step < args.max_steps and time.time() - t_start < budget:
            b = q.get()
            with torch.no_grad():
                x0 = b.render(frames=video["num_frames"], size=video["height"], device=device)  # (B, F, H, W, 3)
                x0 = x0.permute(0, 1, 4, 2, 3) * 2 - 1  # (B, F, 3, H, W) in [-1, 1]
                ids = torch.as_tensor(b.caption_ids, device=device)
                ids = mix_captions(ids, object_ids, compositional, args.full_captions) + 1
                drop = torch.rand(len(ids), device=device) < args.uncond
                text = states[torch.where(drop, torch.zeros_like(ids), ids)].float()
                sigma = torch.sigmoid(torch.randn(len(ids), device=device))  # logit-normal
                noise = torch.randn_like(x0)
                s = sigma.view(-1, 1, 1, 1, 1)
                xt = (1 - s) * x0 + s * noise
                target = noise - x0
            # warm-up, then cosine decay to 10% over whichever budget (steps or minutes) ends first
            progress = min(1.0, max(step / args.max_steps, (time.time() - t_start) / budget))
            lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
            for g in opt.param_groups:
                g["lr"] = lr
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                try:
                    pred = step_fn(hidden_states=xt, encoder_hidden_states=text, timestep=sigma * 1000,
                                   return_dict=False)[0]
                except Exception as e:  # torch.compile failing on this stack: carry on eagerly
                    if step_fn is net:
                        raise
                    print(f"torch.compile failed ({type(e).__name__}: {str(e)[:200]}); training eagerly", flush=True)
                    step_fn = net
                    pred = net(hidden_states=xt, encoder_hidden_states=text, timestep=sigma * 1000,
                               return_dict=False)[0]
            loss = torch.nn.functional.mse_loss(pred.float(), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            decay = min(args.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                for k, v in net.state_dict().items():
                    ema[k].mul_(decay).add_(v.float(), alpha=1 - decay)
            step += 1
            lv = float(loss.detach())
            running = lv if running is None else 0.98 * running + 0.02 * lv
            if step % args.log_every == 0:
                el = time.time() - t_start
                log["curve"].append([step, round(el, 1), round(running, 5)])
                print(f"step {step:6d}  {el:6.0f} s  loss {running:.4f}  {step / el:.2f} steps/s", flush=True)
            if args.save_every and time.time() - last_save > args.save_every * 60:
                log.update(steps=step, seconds=round(time.time() - t_start, 1), final_loss=running,
                           samples=step * args.batch)
                save_ema(ema, out, log)  # a snapshot, in case the machine goes away before the end
                last_save = time.time()
    finally:
        stop.set()
    elapsed = time.time() - t_start
    log.update(steps=step, seconds=round(elapsed, 1), final_loss=running, samples=step * args.batch)
    save_ema(ema, out, log)
    print(f"saved EMA weights after {step} steps ({elapsed:.0f} s) to {out}", flush=True)


def caption_mix_tables(device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Per grammar caption (``world.all_captions()`` order): the ``training_captions()`` index of its
    object caption, and whether its category is compositional. Two (N_captions,) tensors."""
    grammar = world.all_captions()
    index = {c: i for i, c in enumerate(world.training_captions())}
    object_ids = torch.tensor([index[world.object_caption(c)] for c in grammar], device=device)
    compositional = torch.tensor([world.caption_spec(c).category in world.COMPOSITIONAL for c in grammar],
                                 device=device)
    return object_ids, compositional


def mix_captions(ids: torch.Tensor, object_ids: torch.Tensor, compositional: torch.Tensor, full: float,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Caption indices to train on: a compositional caption stays itself with probability ``full``,
    else becomes its object caption; other captions stay. ``ids`` (B,) index ``all_captions()``,
    the result indexes ``training_captions()``."""
    keep = torch.rand(ids.shape, device=ids.device, generator=generator) < full
    return torch.where(compositional[ids] & ~keep, object_ids[ids], ids)


def save_ema(ema: dict, out: Path, log: dict) -> None:
    """The EMA weights as fp16 safetensors in diffusers' layout, and the log beside them."""
    net = shapes_model.build_transformer()
    net.load_state_dict({k: v.detach().to("cpu", torch.float32) for k, v in ema.items()})
    out.mkdir(parents=True, exist_ok=True)
    net.to(torch.float16).save_pretrained(out, safe_serialization=True)
    (out / "train_log.json").write_text(json.dumps(log, indent=1))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m ttom.shapes.train", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pre = sub.add_parser("precompute", help="MiniLM states of every caption (CPU)")
    pre.add_argument("--out", type=Path, required=True)
    f = sub.add_parser("fit", help="train (GPU)")
    f.add_argument("--states", type=Path, required=True)
    f.add_argument("--out", type=Path, required=True)
    f.add_argument("--resume", type=Path)
    f.add_argument("--minutes", type=float, default=8.0)
    f.add_argument("--max-steps", type=int, default=10**9)
    f.add_argument("--batch", type=int, default=128)
    f.add_argument("--lr", type=float, default=5e-4)
    f.add_argument("--warmup", type=int, default=200)
    f.add_argument("--ema", type=float, default=0.999)
    f.add_argument("--uncond", type=float, default=0.1)
    f.add_argument("--full-captions", type=float, default=0.2,
                   help="probability that a compositional scene is captioned in full, else by its objects alone")
    f.add_argument("--save-every", type=float, default=0.0, help="minutes between EMA snapshots (0: only at the end)")
    f.add_argument("--workers", type=int, default=4, help="scene-sampling threads")
    f.add_argument("--log-every", type=int, default=100)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--compile", action="store_true")
    f.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    if args.cmd == "precompute":
        precompute(args.out)
    else:
        fit(args)


if __name__ == "__main__":
    main()
