"""Fixtures for the agent tests: the real graph, checkpointers, engine (tiny-cogvideox on CPU) and memory.

The only stand-in is ``ScriptedJudge``, a *detector* for the critic: the tiny models draw noise, in
which no real detector can find anything, so tests that need the critic to accept (or to fail, then
accept) give the graph a grounder that "finds" each object on its planned boxes in the rounds where
it should, and nothing in the others. It replaces GroundingDINO/SAM2 only: the critic's scoring and
decision policy, the graph, the engine and the memory are the real ones. It reaches the graph
through the runtime context (``AgentContext.critic``), the way a user plugs in a detector of their own.
"""

from __future__ import annotations

import copy

import pytest

from tests.engine.conftest import TWO_OBJECTS  # the engine tests' two-object layout
from ttom.critic.grounders.base import Grounding, Track
from ttom.layout import Layout

PROMPT = TWO_OBJECTS["prompt"]
# few steps: the whole graph in a few seconds on a 2-core CPU
FAST = {"model": "tiny-cogvideox", "device": "cpu", "steps": 3, "tto": {"steps": 1, "iterations": 2}}
# the critic loop killed mid-way (killrun.py loop): round 1 scores best, no round is accepted
LOOP_JUDGE = {"found_in": set(), "partly": {1: 0.6, 2: 0.3, 3: 0.2}}
# the escalating policy: its rounds differ in more than the seed, which the kill-and-resume test checks survives
LOOP_OPTIONS = {"max_rounds": 3, "reoptimize": "escalate", "critic_thresholds": {"absent_rounds_for_repair": 9}}


def planned_layout(prompt: str = PROMPT, model: str = "tiny-cogvideox") -> dict:
    """The layout the graph's (deterministic, offline) planner makes for ``prompt`` on ``model``'s frame."""
    from ttom.agents.nodes import frame_aspect
    from ttom.agents.state import RunOptions
    from ttom.planning.plan import plan

    return plan(prompt, planner="offline", frame_aspect=frame_aspect(model, RunOptions())).layout.to_dict()


class ScriptedJudge:
    """A detector that finds every object on its planned boxes in the rounds listed in ``found_in``
    (1-based), and finds nothing in the other rounds; ``partly`` = {round: fraction}: in that round it
    finds the objects in the first fraction of the frames only (a lower score, not accepted below 75%)."""

    name = "scripted"

    def __init__(self, layout: dict, found_in: set[int] | None = None, partly: dict[int, float] | None = None,
                 first_call: int = 0) -> None:
        self.layout = Layout.parse(layout)
        self.found_in = found_in if found_in is not None else {1, 2, 3, 4}
        self.partly = partly or {}
        self.calls = first_call  # a resumed run's judge starts where the killed one stopped

    def ground(self, frames, queries):
        self.calls += 1
        n, h, w = frames.shape[0], frames.shape[1], frames.shape[2]
        tracks = []
        if self.calls in self.found_in or self.calls in self.partly:
            seen = round(n * self.partly.get(self.calls, 1.0))
            boxes = self.layout.frame_boxes(n)
            for obj in self.layout.objects:
                found = [b if f < seen else None for f, b in enumerate(boxes[obj.id])]
                tracks.append(Track(instance_id=obj.id, phrase=obj.phrase, name=obj.name, boxes=found,
                                    scores=[1.0 if b else 0.0 for b in found]))
        return Grounding(backend="scripted", num_frames=n, height=h, width=w, tracks=tracks)


@pytest.fixture
def two_objects() -> dict:
    return copy.deepcopy(TWO_OBJECTS)


@pytest.fixture
def opts() -> dict:
    return dict(FAST)
