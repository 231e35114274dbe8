"""Run ``ttom serve api``'s application on loopback and SIGKILL this process when its worker sees an event.

    python tests/helpers/serve_kill.py PORT EVENT     # e.g. critic: after the generate node's checkpoint

The jobs' default options are the service tests' (tiny model on the CPU); TTOM_CACHE_DIR says where
the jobs, checkpoints, memory and videos live, so that a second server on the same folder finds them.
"""

import os
import signal
import sys

import uvicorn

from ttom.serve.app import create_app
from ttom.serve.config import ServeConfig

port, kill_at = int(sys.argv[1]), sys.argv[2]


def hook(e):
    if e.get("event") == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


app = create_app(ServeConfig(port=port, poll_s=0.05, flush_s=0.05, device="cpu",
                             defaults={"model": "tiny-cogvideox"}), hook=hook)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
