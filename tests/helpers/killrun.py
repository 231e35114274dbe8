"""Run the agent graph and SIGKILL this process at a chosen point.

    python tests/helpers/killrun.py THREAD OUT_DIR          # once the critique node has started (after generate's checkpoint)
    python tests/helpers/killrun.py THREAD OUT_DIR loop     # in the critic loop: inside round 2's generate node
"""

import os
import signal
import sys

from tests.agents.conftest import (  # the repository root is on PYTHONPATH
    FAST,
    LOOP_JUDGE,
    LOOP_OPTIONS,
    PROMPT,
    TWO_OBJECTS,
    ScriptedJudge,
)
from ttom.agents.run import run_agent

loop = len(sys.argv) > 3 and sys.argv[3] == "loop"


def on_event(e):
    if loop and e["event"] == "generate" and e["round"] == 2:  # rounds 1's generate, critique, reoptimize are on disk
        os.kill(os.getpid(), signal.SIGKILL)
    if not loop and e["event"] == "critic":  # emitted inside the critique node: generate_video is checkpointed by now
        os.kill(os.getpid(), signal.SIGKILL)


if loop:
    run_agent(PROMPT, layout=TWO_OBJECTS, thread_id=sys.argv[1], critic=ScriptedJudge(TWO_OBJECTS, **LOOP_JUDGE),
              options={**FAST, **LOOP_OPTIONS, "out_dir": sys.argv[2]}, on_event=on_event)
else:
    run_agent(PROMPT, layout=TWO_OBJECTS, thread_id=sys.argv[1],
              options={**FAST, "critic": "off", "out_dir": sys.argv[2]}, on_event=on_event)
sys.exit(3)  # not reached
