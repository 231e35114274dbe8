"""The whole agent graph on CPU with tiny-cogvideox: real LangGraph, SQLite checkpoints, engine and memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttom.agents.run import run_agent
from ttom.layout import Layout

from .conftest import PROMPT, ScriptedJudge, planned_layout


def _events(run, kind):
    return [e for e in run.events if e["event"] == kind]


def _planned(prompt: str = PROMPT) -> dict:
    """The layout the graph's (deterministic, offline) planner will make, for the judge to find."""
    return planned_layout(prompt)


def test_happy_path_writes_video_overlay_report_and_memorizes(tmp_path, opts):
    judge = ScriptedJudge(_planned())
    run = run_agent(PROMPT, options={**opts, "out_dir": str(tmp_path / "out")}, critic=judge, keep_events=True)
    v = run.values
    assert v["decision"] == "accept" and v["round"] == 1
    out = tmp_path / "out"
    for f in ("video.mp4", "video.gif", "overlay.png", "layout.json", "report.json", "pytorch_lora_weights.safetensors"):
        assert (out / f).stat().st_size > 0, f
    report = json.loads((out / "report.json").read_text())
    assert report["prompt"] == PROMPT and report["model"] == "tiny-cogvideox" and report["video"] == "video.mp4"
    assert report["tto"]["mode"] == "fresh" and [len(s) for s in report["tto"]["losses"]] == [2]
    assert report["memory"]["hit"] is False and report["memory"]["action"] == "insert"
    assert len(report["memory"]["entry_id"]) == 32
    assert report["critic"]["decision"] == "accept" and report["critic"]["backend"] == "scripted"
    assert report["critic"]["miou"] == pytest.approx(1.0) and report["rounds"] == 1
    assert {"plan", "tto", "denoise", "critic", "memory"} <= set(report["timings"])
    assert [o["name"] for o in report["layout"]["objects"]] == ["car", "dog"]
    # progress was streamed: plan, memory miss, TTO losses, denoising steps, critic, memorize
    kinds = [e["event"] for e in run.events]
    for k in ("plan", "validate", "memory", "generate", "tto", "step", "done", "critic", "memorize", "report"):
        assert k in kinds, k
    assert _events(run, "memory")[0]["hit"] is False
    assert len(_events(run, "step")) == 3 and len(_events(run, "tto")) == 2
    # state is JSON-able (paths and small dicts), so any checkpointer can hold it
    json.dumps(v)


def test_a_similar_scene_finds_phi_in_memory_and_skips_optimisation(tmp_path, opts):
    first = run_agent(PROMPT, options={**opts, "out_dir": str(tmp_path / "a")}, critic=ScriptedJudge(_planned()))
    entry = first.values["memory"]["entry_id"]
    # a different wording of the same scene abstracts to the same memory key
    second = run_agent("a red car drives to the left while a dog sits on the right side",
                       options={**opts, "out_dir": str(tmp_path / "b")},
                       critic=ScriptedJudge(_planned("a red car drives to the left while a dog sits on the right side")),
                       keep_events=True)
    report = second.report
    assert report["memory"]["hit"] is True and report["memory"]["entry_id"] == entry
    assert report["memory"]["recalled_entry_id"] == entry  # where φ came from, apart from where φ* went
    assert "recalled_entry_id" not in first.report["memory"]  # a miss came from no entry
    assert report["memory"]["similarity"] >= 0.85 and report["memory"]["action"] == "update"
    assert report["tto"]["mode"] == "skip" and report["tto"]["losses"] == []
    assert not _events(second, "tto")
    # warm mode continues the remembered φ instead
    warm = run_agent(PROMPT, options={**opts, "memory_mode": "warm", "out_dir": str(tmp_path / "c")},
                     critic=ScriptedJudge(_planned()))
    assert warm.report["tto"]["mode"] == "warm" and len(warm.report["tto"]["losses"]) == 1


def test_critic_sends_it_back_to_reoptimise_then_accepts(tmp_path, opts, two_objects):
    judge = ScriptedJudge(two_objects, found_in={2})  # nothing found in round 1, everything in round 2
    run = run_agent(PROMPT, layout=two_objects, options={**opts, "out_dir": str(tmp_path)}, critic=judge,
                    keep_events=True)
    report = run.report
    assert [h["decision"] for h in report["history"]] == ["reoptimize", "accept"]
    assert report["rounds"] == 2 and report["critic"]["decision"] == "accept"
    assert report["tto"]["mode"] == "fresh" and report["history"][1]["seed"] == report["history"][0]["seed"] + 1
    assert _events(run, "reoptimize")[0]["mode"] == "fresh"  # the default policy reseeds with fresh φ
    assert (tmp_path / "rounds" / "1" / "video.mp4").exists() and (tmp_path / "rounds" / "2" / "video.mp4").exists()
    assert report["memory"]["action"] == "insert"


def test_round_budget_spent_memorizes_nothing_by_default(tmp_path, opts, two_objects):
    judge = ScriptedJudge(two_objects, found_in=set())
    thresholds = {"absent_rounds_for_repair": 5}
    run = run_agent(PROMPT, layout=two_objects, critic=judge,
                    options={**opts, "max_rounds": 2, "critic_thresholds": thresholds, "out_dir": str(tmp_path)})
    report = run.report
    assert report["rounds"] == 2 and report["critic"]["decision"] == "reoptimize"
    assert report["accepted"] is False and run.values["accepted"] is False
    assert report["memory"]["action"] == "none" and report["memory"]["accepted"] is False
    assert "accepted no round" in report["memory"]["reason"]
    from ttom.memory import MemoryStore

    assert MemoryStore(settings=None).count() == 0


def test_an_invalid_layout_is_repaired_before_generation(tmp_path, opts, two_objects):
    wrong = json.loads(json.dumps(two_objects))
    wrong["objects"][1]["keyframes"] = [{"t": 0, "box": [0.05, 0.05, 0.35, 0.4]},
                                        {"t": 1, "box": [0.05, 0.05, 0.35, 0.4]}]  # the dog on the left
    run = run_agent(PROMPT, layout=wrong, options={**opts, "tto": {"mode": "off"}, "critic": "off", "out_dir": str(tmp_path)},
                    keep_events=True)
    v = run.values
    validations = _events(run, "validate")
    assert validations[0]["ok"] is False and "wrong_position" in validations[0]["errors"][0]
    assert validations[-1]["ok"] is True and _events(run, "repair")
    dog = Layout.parse(v["current_layout"]).objects[1]
    assert dog.name == "dog" and dog.keyframes[0].box[0] >= 0.5  # moved to the right, as the prompt says
    assert run.report["repairs"] == 1 and run.report["critic"]["decision"] == "skipped"


def test_a_layout_the_critic_calls_wrong_is_repaired_and_regenerated(tmp_path, opts, two_objects):
    judge = ScriptedJudge(two_objects, found_in={3})
    run = run_agent(PROMPT, layout=two_objects, critic=judge,
                    options={**opts, "max_rounds": 3, "critic_thresholds": {"absent_rounds_for_repair": 2},
                             "out_dir": str(tmp_path)}, keep_events=True)
    decisions = [h["decision"] for h in run.report["history"]]
    assert decisions[:2] == ["reoptimize", "repair"], decisions
    how = _events(run, "repair")[0]["how"]
    assert "offline-fix of absent" in how and run.report["repairs"] == 1
    # the objects never found got larger boxes for round 3, which the critic accepted
    before, after = Layout.parse(two_objects), Layout.parse(run.report["layout"])
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    assert area(after.objects[1].keyframes[0].box) > 1.2 * area(before.objects[1].keyframes[0].box)
    assert run.report["accepted"] is True and run.report["delivered_round"] == 3


@pytest.mark.parametrize("resume", ["approve", "edit", "reject"])
def test_human_approval_before_the_gpu_work(tmp_path, opts, two_objects, resume):
    first = run_agent(PROMPT, layout=two_objects, thread_id="t-approve",
                      options={**opts, "approve": True, "tto": {"mode": "off"}, "critic": "off", "out_dir": str(tmp_path)})
    assert first.interrupt is not None and first.interrupt["layout"]["objects"][0]["name"] == "car"
    assert "generation" not in first.values or not first.values["generation"]
    answer = {"approve": "approve", "reject": "reject"}.get(resume)
    if resume == "edit":
        edited = json.loads(json.dumps(two_objects))
        edited["objects"][1]["keyframes"][0]["box"] = [0.5, 0.05, 0.95, 0.5]
        answer = {"layout": edited}
    done = run_agent(thread_id="t-approve", resume=answer)
    assert done.interrupt is None
    if resume == "reject":
        assert done.values["decision"] == "rejected" and not (tmp_path / "video.mp4").exists()
        return
    assert (tmp_path / "video.mp4").exists()
    if resume == "edit":
        assert done.report["layout"]["objects"][1]["keyframes"][0]["box"] == [0.5, 0.05, 0.95, 0.5]


def test_conversation_edits_the_previous_layout_on_one_thread(tmp_path, opts):
    o = {**opts, "tto": {"mode": "off"}, "critic": "off", "steps": 2}
    first = run_agent("a dog sits on the right while a red car drives to the left", thread_id="chat",
                      options={**o, "out_dir": str(tmp_path / "1")})
    before = Layout.parse(first.values["current_layout"])
    bigger = run_agent("make the dog bigger", thread_id="chat", options={**o, "out_dir": str(tmp_path / "2")})
    after = Layout.parse(bigger.values["current_layout"])
    dog0, dog1 = (next(x for x in lay.objects if x.name == "dog") for lay in (before, after))
    w = lambda b: b[2] - b[0]  # noqa: E731
    assert w(dog1.keyframes[0].box) > w(dog0.keyframes[0].box)
    assert bigger.values["plan"]["planner"] == "edit" and after.prompt == before.prompt
    two = run_agent("now two dogs", thread_id="chat", options={**o, "out_dir": str(tmp_path / "3")})
    assert Layout.parse(two.values["current_layout"]).counts() == {"dog": 2, "car": 1}
    assert (tmp_path / "3" / "video.mp4").exists() and two.values["requests"] == 3


def test_bad_requests_give_clear_errors(tmp_path, monkeypatch, opts):
    from ttom.errors import ConfigError
    from ttom.planning.errors import LLMUnreachableError, PlannerError

    with pytest.raises(PlannerError, match="prompt is empty"):
        run_agent("   ", options=opts)
    with pytest.raises(ConfigError, match="unknown model 'no-such-model'"):
        run_agent(PROMPT, options={**opts, "model": "no-such-model"})
    with pytest.raises(ConfigError, match="bad options.*no_such_option"):
        run_agent(PROMPT, options={**opts, "no_such_option": 1})
    with pytest.raises(PlannerError, match="no objects found"):
        run_agent("quickly and slowly", options={**opts, "planner": "offline"})
    from ttom.config import get_settings

    monkeypatch.setenv("TTOM_LLM_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens on the discard port
    monkeypatch.setenv("TTOM_LLM_MAX_RETRIES", "0")
    get_settings.cache_clear()
    with pytest.raises(LLMUnreachableError, match=r"cannot reach the LLM endpoint http://127.0.0.1:9/v1"):
        run_agent(PROMPT, options={**opts, "planner": "llm"})
    with pytest.raises(ConfigError, match="nothing to resume"):
        run_agent(thread_id="never-started", resume=True)
    assert not list(Path(get_settings().cache_dir).glob("runs/*/*/video.mp4"))
