"""Text → layout, with no torch and no LangGraph.

- ``parse`` + ``lexicon``: an offline reading of the prompt (objects, counts, relations, motions);
- ``offline``: the deterministic planner and the offline repair;
- ``llm``: the planner on any OpenAI-compatible endpoint;
- ``validate``: checks of a layout against its prompt (findings only);
- ``plan``: ``plan()`` and ``repair()``, the one place that holds the LLM-then-offline policy;
- ``edits``: chat edits of a layout ("make the dog bigger");
- ``abstraction``: the scene description that keys the parameter memory.
"""

from ttom.planning.plan import PlanResult, plan, repair

__all__ = ["PlanResult", "plan", "repair"]
