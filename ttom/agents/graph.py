"""The agent: a LangGraph state machine that reads like ARCHITECTURE.md's diagram.

    request ─► plan ─► validate ─(invalid)─► repair ─► validate
                          │ valid  (─► approve, when a human is asked)
                          ▼
                       abstract ─► recall ─► generate ─► critique ─┬─ accept / budget spent ─► memorize ─► report
                                                ▲                  ├─ layout followed badly ─► reoptimize ─► generate
                                                                   └─ layout wrong ─► repair ─► validate ...

Nodes live in ``ttom.agents.nodes``; state in ``ttom.agents.state``; checkpointers in
``ttom.agents.checkpoint``. ``graph`` (no checkpointer: ``langgraph dev`` brings its own) is what
``langgraph.json`` serves; ``build_graph(checkpointer)`` is for the CLI, the tools and tests.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from ttom.agents import nodes
from ttom.agents.state import AgentContext, AgentInput, AgentOutput, AgentState


def build_graph(checkpointer=None, **compile_kwargs):
    """The compiled agent graph; ``checkpointer`` persists it (SQLite, PostgreSQL, in memory)."""
    g = StateGraph(AgentState, context_schema=AgentContext, input_schema=AgentInput, output_schema=AgentOutput)
    g.add_node("plan_layout", nodes.plan_layout)
    g.add_node("validate_layout", nodes.validate_layout)
    g.add_node("repair_layout", nodes.repair_layout)
    g.add_node("approve_layout", nodes.approve_layout)
    g.add_node("abstract_scene", nodes.abstract_scene)
    g.add_node("recall_memory", nodes.recall_memory)
    g.add_node("generate_video", nodes.generate_video)
    g.add_node("critique_video", nodes.critique_video)
    g.add_node("reoptimize", nodes.reoptimize)
    g.add_node("memorize_result", nodes.memorize_result)
    g.add_node("write_report", nodes.write_report)

    g.add_edge(START, "plan_layout")
    g.add_edge("plan_layout", "validate_layout")
    g.add_conditional_edges("validate_layout", nodes.route_after_validate)
    g.add_edge("repair_layout", "validate_layout")
    g.add_conditional_edges("approve_layout", nodes.route_after_approve)
    g.add_edge("abstract_scene", "recall_memory")
    g.add_edge("recall_memory", "generate_video")
    g.add_edge("generate_video", "critique_video")
    g.add_conditional_edges("critique_video", nodes.route_after_critique)
    g.add_edge("reoptimize", "generate_video")
    g.add_edge("memorize_result", "write_report")
    g.add_edge("write_report", END)
    return g.compile(checkpointer=checkpointer, name="ttom", **compile_kwargs)


graph = build_graph()
