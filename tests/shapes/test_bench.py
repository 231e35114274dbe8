"""ttom bench shapes: its prompt set, success rules, table and plots (the generation itself is the engine's, tested elsewhere)."""

from ttom.bench import shapes as bench
from ttom.shapes import world


def test_prompt_set_is_fixed_distinct_and_from_each_category():
    a, b = bench.prompts(3, seed=0), bench.prompts(3, seed=0)
    assert a == b and len(a) == 3 * len(bench.CATEGORIES)
    for cat, caption in a:
        assert world.caption_spec(caption).category == bench.CATEGORIES[cat]
    assert len({c for _, c in a}) == len(a)
    assert bench.prompts(3, seed=1) != a


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
    assert total[0] == "**all**" and total[1] == 2 and total[2] == "50%" and total[3] == "100%"
    assert b.rate("skip")[2] == 4.0
    pngs = bench.plots(b, tmp_path)
    assert [p.name for p in pngs] == ["shapes_success.png", "shapes_memory_stream.png"]
    assert all(p.stat().st_size > 1000 for p in pngs)
