"""ttom bench shapes: its prompt set, success rules, table and plots (the generation itself is the engine's, tested elsewhere)."""

import json

import pytest

from ttom.bench import shapes as bench
from ttom.shapes import world


def test_prompt_set_is_fixed_distinct_and_from_each_category():
    a, b = bench.prompts(3, seed=0), bench.prompts(3, seed=0)
    assert a == b and len(a) == 3 * len(bench.CATEGORIES)
    for cat, caption in a:
        assert world.caption_spec(caption).category == bench.CATEGORIES[cat]
    assert len({c for _, c in a}) == len(a)
    assert bench.prompts(3, seed=1) != a
    assert bench.prompts(3, seed=0, split="all") == a  # "all" is the sampling the bench always did


def test_dev_and_test_splits_partition_each_category():
    for cat, wcat in bench.CATEGORIES.items():
        dev, test = bench.split_captions(cat, "dev"), bench.split_captions(cat, "test")
        assert not set(dev) & set(test)
        assert sorted(dev + test) == sorted(world.all_captions([wcat]))
        assert abs(len(dev) - len(test)) <= 1
    for seed in range(3):  # whatever the seed samples, dev prompts never reach the test set
        d, t = bench.prompts(10, seed, "dev"), bench.prompts(10, seed, "test")
        assert not {c for _, c in d} & {c for _, c in t}
        assert all(c in bench.split_captions(cat, "test") for cat, c in t)
    with pytest.raises(ValueError):
        bench.split_captions("spatial", "train")


def test_sign_test():
    assert bench.sign_test(0, 0) == 1.0
    assert bench.sign_test(5, 0) == pytest.approx(2 / 32) == bench.sign_test(0, 5)
    assert bench.sign_test(6, 1) == pytest.approx(2 * (1 + 7) / 128)
    assert bench.sign_test(3, 3) == 1.0  # an even split is capped at 1
    assert bench.sign_test(12, 2) < 0.05 < bench.sign_test(8, 3)


def _sample(cat, prompt, cond, ok, miou=0.0):
    return bench.Sample(cat, prompt, cond, ok, miou, 1.0)


def test_paired_counts_discordant_prompts_only():
    b = bench.ShapesBench([
        _sample("spatial", "p1", "plain", False), _sample("spatial", "p1", "tto", True),  # tto wins
        _sample("spatial", "p2", "plain", True), _sample("spatial", "p2", "tto", True),  # tie
        _sample("motion", "p3", "plain", True), _sample("motion", "p3", "tto", False),  # tto loses
        _sample("motion", "p4", "plain", False), _sample("motion", "p4", "tto", False),  # tie
        _sample("motion", "p5", "tto", True),  # no plain sample: not paired
    ])
    assert bench.paired(b, "plain", "tto") == (1, 1, 1.0)
    assert bench.paired(b, "plain", "tto", "spatial") == (1, 0, 1.0)
    assert bench.paired(b, "plain", "tto", "motion")[:2] == (0, 1)
    headers, rows = bench.paired_table(b)
    assert headers == ["category", "tto vs plain: success", "tto vs plain: mIoU", "tto vs plain: movement"]
    assert rows[0] == ["spatial", "+1 −0 (p = 1)", "+0 −0 (p = 1)", "–"]  # every mIoU here is 0: all ties


def test_paired_miou_counts_higher_and_lower_layout_miou():
    b = bench.ShapesBench([
        _sample("spatial", "p1", "plain", False, 0.1), _sample("spatial", "p1", "tto", False, 0.3),  # higher
        _sample("spatial", "p2", "plain", True, 0.5), _sample("spatial", "p2", "tto", True, 0.4),  # lower
        _sample("motion", "p3", "plain", False, 0.2), _sample("motion", "p3", "tto", False, 0.2),  # tie
        _sample("motion", "p4", "plain", False, 0.0), _sample("motion", "p4", "tto", False, 0.6),  # higher
    ])
    assert bench.paired(b, "plain", "tto", measure="miou") == (2, 1, 1.0)
    assert bench.paired(b, "plain", "tto") == (0, 0, 1.0)  # no success changed
    with pytest.raises(ValueError, match="measure"):
        bench.paired(b, "plain", "tto", measure="speed")


def test_movement_compares_objects_found_in_both_and_counts_the_lost():
    def s(prompt, cond, errs):
        return bench.Sample("spatial", prompt, cond, False, 0.0, 1.0, centre_errors=errs)

    b = bench.ShapesBench([
        s("p1", "plain", [0.30, 0.20]), s("p1", "tto", [0.10, 0.25]),  # one closer by 0.2, one farther by 0.05
        s("p2", "plain", [0.40, None]), s("p2", "tto", [None, 0.1]),  # the first lost; the second never in plain
        s("p3", "plain", [0.50]), s("p3", "tto", [0.20]),  # closer by 0.3
    ])
    m = bench.movement(b, "plain", "tto")
    assert (m["objects"], m["closer"], m["farther"], m["lost"]) == (3, 2, 1, 1)
    assert m["mean_gain"] == pytest.approx((0.2 - 0.05 + 0.3) / 3)
    assert m["p"] == bench.sign_test(2, 1)
    assert bench.movement(b, "tto", "plain")["lost"] == 1  # reversed: p2's second object, found by tto only


def test_shards_split_the_prompts_and_keep_their_seeds():
    items = list(enumerate("abcdefg"))
    parts = [bench.shard(items, f"{k}/3") for k in range(3)]
    assert sorted(x for part in parts for x in part) == items
    assert parts[1] == [(1, "b"), (4, "e")]
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(ValueError, match="K/N"):
            bench.shard(items, bad)


def test_a_category_subset_keeps_the_places_of_the_whole_set():
    whole = bench.prompts(3, 0, "dev")
    some = bench.numbered_prompts(3, 0, "dev", ("motion", "binding"))
    assert [p[0] for _, p in some] == ["motion"] * 3 + ["binding"] * 3
    assert all(whole[k] == p for k, p in some)
    assert bench.numbered_prompts(3, 0, "dev") == list(enumerate(whole))
    with pytest.raises(ValueError, match="colours"):
        bench.numbered_prompts(3, 0, "dev", ("motion", "colours"))


def test_bench_shapes_runs_only_the_categories_asked_and_leaves_the_docs_alone(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ttom.cli import app

    monkeypatch.chdir(tmp_path)
    f = tmp_path / "s.json"
    out = CliRunner().invoke(app, ["bench", "shapes", "-n", "1", "--split", "dev", "--conditions", "plain",
                                   "--categories", "binding", "--samples", str(f), "--no-record"])
    assert out.exit_code == 0, out.output
    assert not (tmp_path / "docs").exists()  # --no-record: no plots over the docs' own (--plots asks for them)
    (k, (cat, cap)), = bench.numbered_prompts(1, 0, "dev", ("binding",))
    assert [(s["category"], s["prompt"], s["seed"]) for s in json.loads(f.read_text())] == [(cat, cap, k)]
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "ttom.cli", "bench", "shapes", "--categories", "colours", "--no-record"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "colours" in r.stderr + r.stdout and "Traceback" not in r.stderr


def test_object_conditioning_keeps_the_layout_and_drops_the_layout_words():
    from ttom.planning.plan import plan

    cap = "a red circle to the left of a blue square"
    layout = plan(cap, planner="offline").layout
    conditioned = bench.condition_layout(layout, cap, "objects")
    assert conditioned.generation_prompt() == "a red circle and a blue square"
    assert conditioned.objects == layout.objects and conditioned.prompt == layout.prompt
    assert bench.condition_layout(layout, cap, "full") is layout


def test_merge_baseline_adds_the_missing_conditions_of_the_same_prompts():
    plain = bench.ShapesBench([_sample("spatial", "p1", "plain", False), _sample("spatial", "p1", "tto", False)])
    tto = bench.ShapesBench([_sample("spatial", "p1", "tto", True)])
    merged = bench.merge_baseline(tto, plain)
    assert sorted((s.condition, s.success) for s in merged.samples) == [("plain", False), ("tto", True)]
    with pytest.raises(ValueError):
        bench.merge_baseline(bench.ShapesBench([_sample("spatial", "p2", "tto", True)]), plain)


def test_samples_round_trip(tmp_path):
    b = bench.ShapesBench([bench.Sample("motion", "p", "skip", True, 0.5, 3.0, 0, "hit", 0.9)])
    bench.save(b, tmp_path / "s.json")
    assert bench.load(tmp_path / "s.json") == b


def test_success_rules_follow_each_category():
    ok_dirs = {"objects": [{"direction_ok": True}, {"direction_ok": True}], "counts_ok": True, "relations_ok": False}
    assert not bench.success("spatial", ok_dirs) and bench.success("motion", ok_dirs)
    assert bench.success("several", ok_dirs) and bench.success("binding", ok_dirs)
    one_unknown = {**ok_dirs, "objects": [{"direction_ok": True}, {"direction_ok": None}]}
    assert not bench.success("motion", one_unknown) and not bench.success("several", one_unknown)
    assert bench.success("spatial", {**ok_dirs, "relations_ok": True})
    assert not bench.success("numeracy", {**ok_dirs, "counts_ok": False})


def test_table_and_plots(tmp_path):
    b = bench.ShapesBench([
        bench.Sample("spatial", "p1", "plain", False, 0.1, 2.0),
        bench.Sample("spatial", "p1", "tto", True, 0.3, 6.0, 16),
        bench.Sample("motion", "p2", "plain", True, 0.2, 2.0),
        bench.Sample("motion", "p2", "tto", True, 0.4, 6.0, 8),
        bench.Sample("spatial", "p1", "skip", True, 0.3, 6.0, 16, "miss"),
        bench.Sample("motion", "p2", "skip", True, 0.25, 2.0, 0, "hit", 0.97),
    ])
    headers, rows = bench.table(b)
    assert headers[:4] == ["category", "n", "plain success", "tto success"]
    total = rows[-1]
    assert total[0] == "**all**" and total[1] == 2 and total[2] == "1/2 (50%)" and total[3] == "2/2 (100%)"
    assert b.rate("skip")[2] == 4.0
    pngs = bench.plots(b, tmp_path)
    assert [p.name for p in pngs] == ["shapes_success.png", "shapes_memory_stream.png"]
    assert all(p.stat().st_size > 1000 for p in pngs)


def test_a_category_with_fewer_captions_than_asked_comes_round_again_with_other_seeds():
    from collections import Counter

    caps = bench.split_captions("numeracy", "test")
    chosen = [c for cat, c in bench.prompts(len(caps) * 3 + 2, 0, "test") if cat == "numeracy"]
    assert len(chosen) == len(caps) * 3 + 2
    assert len(set(chosen[: len(caps)])) == len(caps)  # every caption once before any repeats
    assert set(Counter(chosen).values()) == {3, 4}
    # the paired comparison keeps repeats apart: they carry different seeds
    b = bench.ShapesBench([bench.Sample("numeracy", "p", c, ok, 0.0, 1.0, seed=s)
                           for s, (c, ok) in enumerate([("plain", False), ("tto", True)] * 1)]
                          + [bench.Sample("numeracy", "p", c, ok, 0.0, 1.0, seed=7)
                             for c, ok in [("plain", False), ("tto", True)]])
    assert bench.paired(b, "plain", "tto") == (1, 0, 1.0)  # seed 0 plain vs seed 1 tto are not a pair


def test_bench_shapes_and_loop_pass_the_denoising_and_tto_recipe_to_every_generation(tmp_path, monkeypatch):
    # a recipe with fewer denoising steps is swept through these options: each must reach the engine
    from typer.testing import CliRunner

    import ttom.engine.tto as tto
    from ttom.cli import app

    seen = []
    real = tto.generate

    def spy(backend, layout, cfg, **kw):
        seen.append((cfg.mode, kw.get("steps"), cfg.steps, cfg.phi_steps, cfg.iterations, cfg.adapter_blocks))
        return real(backend, layout, cfg, **kw)

    monkeypatch.setattr(tto, "generate", spy)
    monkeypatch.chdir(tmp_path)
    schedule = ["--steps", "3", "--tto-steps", "1", "--phi-steps", "2", "--tto-iterations", "1", "--adapter-blocks", "3,4"]
    out = CliRunner().invoke(app, ["bench", "shapes", "-n", "1", "--split", "dev", "--conditions", "plain,tto",
                                   "--categories", "binding", "--no-record", *schedule])
    assert out.exit_code == 0, out.output
    assert seen == [("off", 3, 1, 2, 1, (3, 4)), ("fresh", 3, 1, 2, 1, (3, 4))]
    seen.clear()
    from ttom.bench import report

    doc = tmp_path / "benchmarks.md"
    monkeypatch.setattr(report, "default_doc_path", lambda: doc)
    out = CliRunner().invoke(app, ["bench", "loop", "-n", "1", "--split", "dev", "--conditions", "best3",
                                   "--categories", "binding", *schedule])
    assert out.exit_code == 0, out.output
    assert seen == [("fresh", 3, 1, 2, 1, (3, 4))] * 3  # every round of best-of-3
    recorded = doc.read_text()  # the recorded table says what it ran
    assert "3 denoising steps" in recorded and "'steps': 1" in recorded and "'adapter_blocks': (3, 4)" in recorded
