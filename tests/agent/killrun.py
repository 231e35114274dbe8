"""Run the agent graph and SIGKILL this process once the critique node has started (after generate's checkpoint).

    python killrun.py THREAD OUT_DIR
"""

import os
import signal
import sys

from conftest import FAST, PROMPT, TWO_OBJECTS  # tests/agent is on sys.path (the script's folder)

from ttom.agents.run import run_agent


def on_event(e):
    if e["event"] == "critic":  # emitted inside the critique node: generate_video is checkpointed by now
        os.kill(os.getpid(), signal.SIGKILL)


run_agent(PROMPT, layout=TWO_OBJECTS, thread_id=sys.argv[1],
          options={**FAST, "critic": "off", "out_dir": sys.argv[2]}, on_event=on_event)
sys.exit(3)  # not reached
