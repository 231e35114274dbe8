import math

import pytest
import torch

from ttom.engine.loss import alignment_loss, instance_loss, jsd, normalize_maps, term_mean
from ttom.engine.masks import box_mask, gaussian_box, instance_boxes, layout_targets
from ttom.engine.tokens import described_token_groups, object_token_groups, token_positions
from ttom.errors import TtomError
from ttom.layout import Layout, static_object
from ttom.minilm import load_minilm


def test_gaussian_is_centred_with_quarter_side_sigma():
    g = gaussian_box((0.25, 0.5, 0.75, 1.0), 40, 40)
    iy, ix = divmod(int(g.argmax()), 40)
    assert (ix + 0.5) / 40 == pytest.approx(0.5, abs=0.026) and (iy + 0.5) / 40 == pytest.approx(0.75, abs=0.026)
    # the value at any cell is exp(-dx²/2σx² - dy²/2σy²) with σ = side/4 (0.125 in x, 0.125 in y)
    for iy, ix in [(30, 25), (35, 12), (5, 5)]:
        dx, dy = (ix + 0.5) / 40 - 0.5, (iy + 0.5) / 40 - 0.75
        expected = math.exp(-(dx**2) / (2 * 0.125**2) - dy**2 / (2 * 0.125**2))
        assert float(g[iy, ix]) == pytest.approx(expected, rel=1e-4, abs=1e-12)


def test_targets_sum_same_name_instances_and_handle_absence():
    two_birds = [static_object(0, "bird", [0.0, 0.0, 0.3, 0.3]), static_object(1, "bird", [0.7, 0.7, 1.0, 1.0])]
    late = {"id": 2, "name": "cat", "phrase": "a cat",
            "keyframes": [{"t": 0.5, "box": [0.4, 0.4, 0.6, 0.6]}, {"t": 1.0, "box": [0.4, 0.4, 0.6, 0.6]}]}
    layout = Layout.parse({"prompt": "two birds and a cat", "objects": [o.model_dump() for o in two_birds] + [late]})
    targets, present = layout_targets(layout, (3, 10, 10))
    assert targets.shape == (2, 3, 10, 10)
    assert not torch.isnan(targets).any()
    assert torch.allclose(targets[0].sum(dim=(1, 2)), torch.ones(3))
    # both birds carry mass: two separate peaks in opposite corners
    assert targets[0, 0, 1, 1] > 0.01 and targets[0, 0, 8, 8] > 0.01 and targets[0, 0, 1, 1] == pytest.approx(float(targets[0, 0, 8, 8]), rel=1e-5)
    # the cat is absent in frame 0 (t=0 < 0.5): zero target, not present
    assert present.tolist() == [[True, True, True], [False, True, True]]
    assert targets[1, 0].sum() == 0
    hard = box_mask((0.41, 0.41, 0.42, 0.42), 4, 4)  # smaller than a cell: still one cell
    assert hard.sum() == 1


def test_jsd_bounds_and_absent_frames_are_skipped():
    p = normalize_maps(torch.rand(2, 3, 5, 5))
    assert torch.allclose(jsd(p, p), torch.zeros(2, 3), atol=1e-6)
    a = torch.zeros(5, 5)
    a[0, 0] = 1
    b = torch.zeros(5, 5)
    b[4, 4] = 1
    assert float(jsd(a, b)) == pytest.approx(math.log(2), rel=1e-5)
    targets = torch.stack([a, b])[:, None]  # (G=2, F=1, 5, 5)
    maps = [torch.stack([a, a])[:, None]]
    present = torch.tensor([[True], [False]])
    assert float(alignment_loss(maps, targets, present)) == pytest.approx(0.0, abs=1e-6)
    present = torch.tensor([[True], [True]])
    assert float(alignment_loss(maps, targets, present)) == pytest.approx(math.log(2) / 2, rel=1e-5)
    with pytest.raises(ValueError, match="no object is present"):
        alignment_loss(maps, targets, torch.zeros(2, 1, dtype=torch.bool))


def test_token_positions_every_occurrence_and_inflections():
    tok, _ = load_minilm()
    prompt = "a dog chases a red car while another dog sleeps"
    ids = tok(prompt, padding="max_length", max_length=32)["input_ids"]
    words = tok.convert_ids_to_tokens(ids)
    dog = token_positions(tok, ids, "dog", prompt)
    assert [words[i] for i in dog] == ["dog", "dog"] and len(set(dog)) == 2
    # an inflected form is found through the characters
    prompt2 = "three dogs run past two hedgehogs"
    ids2 = tok(prompt2)["input_ids"]
    pos = token_positions(tok, ids2, "dog", prompt2)
    assert tok.convert_ids_to_tokens([ids2[i] for i in pos]) == ["dogs"]
    hh = token_positions(tok, ids2, "hedgehog", prompt2)
    assert "".join(tok.convert_ids_to_tokens([ids2[i] for i in hh])).replace("#", "").startswith("hedgehog")
    groups = object_token_groups(tok, prompt, ids, ["dog", "car", "dog"])
    assert list(groups) == ["dog", "car"]
    with pytest.raises(TtomError, match="giraffe"):
        object_token_groups(tok, prompt, ids, ["giraffe"])


def _layout(*objs):
    return Layout(prompt="p", objects=[static_object(k, name, (0.1 * k, 0.1, 0.1 * k + 0.2, 0.4), phrase)
                                       for k, (name, phrase) in enumerate(objs)])


@pytest.mark.parametrize(("scope", "circle", "square"), [
    ("name", ["circle"], ["square"]),
    ("phrase", ["red", "circle"], ["red", "square"]),  # each object reads its own "red", not the other's
    ("clause", ["red", "circle", "moving", "right"], ["red", "square", "moving", "left"]),
])
def test_token_scope_widens_each_group_to_its_own_description(scope, circle, square):
    tok, _ = load_minilm()
    prompt = "a red circle moving right and a red square moving left"
    ids = tok(prompt, padding="max_length", max_length=32)["input_ids"]
    words = tok.convert_ids_to_tokens(ids)
    groups = described_token_groups(tok, prompt, ids, _layout(("circle", "a red circle"), ("square", "a red square")),
                                    scope)
    assert [words[i] for i in groups["circle"]] == circle and [words[i] for i in groups["square"]] == square
    assert not set(groups["circle"]) & set(groups["square"])


def test_token_scope_finds_a_plural_phrase_and_skips_one_the_prompt_words_otherwise():
    tok, _ = load_minilm()
    prompt = "three green triangles above a dog"
    ids = tok(prompt)["input_ids"]
    words = tok.convert_ids_to_tokens(ids)
    lay = _layout(("triangle", "a green triangle"), ("dog", "a small brown dog"))
    groups = described_token_groups(tok, prompt, ids, lay, "clause")
    assert [words[i] for i in groups["triangle"]] == ["green", "triangles", "above"]
    assert [words[i] for i in groups["dog"]] == ["dog"]  # "small brown dog" is not in the prompt: the name only
    with pytest.raises(ValueError, match="token scope"):
        described_token_groups(tok, prompt, ids, lay, "sentence")
    from ttom.engine.tto import TTOConfig

    with pytest.raises(TtomError, match="token_scope"):
        TTOConfig(token_scope="sentence")


def test_soft_iou_hand_computed():
    from ttom.engine.probe import soft_iou

    mask = torch.zeros(1, 1, 2, 2)
    mask[0, 0, 0, 0] = 1
    same = mask.clone() * 5  # min-max normalisation makes the scale irrelevant
    assert soft_iou(same, mask, torch.tensor([[True]])) == pytest.approx(1.0)
    half = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]])  # A·M = 1, A + M − A·M = 1 + 0.5
    assert soft_iou(half, mask, torch.tensor([[True]])) == pytest.approx(1 / 1.5)


@pytest.mark.parametrize(("prompt", "word", "own"), [
    ("Three people sit around a table", "person", "people"),
    ("two women wave at a bus", "woman", "women"),
    ("four mice run under a chair", "mouse", "mice"),
    ("leaves fall past a window", "leaf", "leaves"),
    ("two children kick a ball", "child", "children"),
    ("three geese swim on a lake", "goose", "geese"),
    ("two teddy bears sit on a bed", "teddy bear", "teddy bears"),
])
@pytest.mark.parametrize("model", ["tiny-cogvideox", "tiny-wan"])
def test_irregular_plurals_find_the_prompts_own_word(backends, model, prompt, word, own):
    """The planner names the singular ("person"); the tokens read are those of the prompt's word ("people")."""
    tok = backends[model].tokenizer
    ids = tok(prompt)["input_ids"]
    pos = token_positions(tok, ids, word, prompt)
    expected = tok(" " + own, add_special_tokens=False)["input_ids"]
    expected = [i for i in expected if tok.convert_ids_to_tokens(i) not in ("▁", "Ġ", "")]
    assert pos and [ids[i] for i in pos] == expected
    assert object_token_groups(tok, prompt, ids, [word, word])[word] == pos


def test_weighted_loss_is_the_weighted_mean_of_the_names_terms():
    g = torch.Generator().manual_seed(0)
    targets = normalize_maps(torch.rand(2, 3, 4, 4, generator=g))
    maps = [torch.rand(2, 3, 4, 4, generator=g), torch.rand(2, 3, 4, 4, generator=g)]
    present = torch.tensor([[True, True, False], [True, True, True]])
    plain = alignment_loss(maps, targets, present)
    assert float(alignment_loss(maps, targets, present, torch.ones(2))) == pytest.approx(float(plain), rel=1e-6)
    per = [torch.stack([jsd(normalize_maps(m), targets)[i][present[i]] for m in maps]) for i in range(2)]
    w = torch.tensor([3.0, 0.5])
    expected = (3.0 * per[0].sum() + 0.5 * per[1].sum()) / (3.0 * per[0].numel() + 0.5 * per[1].numel())
    assert float(alignment_loss(maps, targets, present, w)) == pytest.approx(float(expected), rel=1e-6)
    assert float(alignment_loss(maps, targets, present, torch.tensor([1.0, 0.0]))) == pytest.approx(
        float(per[0].mean()), rel=1e-6)
    with pytest.raises(ValueError, match="all zero"):
        alignment_loss(maps, targets, present, torch.zeros(2))


def _three_birds_layout():
    boxes = [[0.0, 0.0, 0.3, 0.3], [0.7, 0.0, 1.0, 0.3], [0.35, 0.7, 0.65, 1.0]]
    objs = [static_object(i, "bird", b).model_dump() for i, b in enumerate(boxes)]
    mover = {"id": 3, "name": "cat", "phrase": "a cat",
             "keyframes": [{"t": 0.0, "box": [0.0, 0.4, 0.2, 0.6]}, {"t": 1.0, "box": [0.8, 0.4, 1.0, 0.6]}]}
    return Layout.parse({"prompt": "three birds and a cat moving right", "objects": objs + [mover]})


def test_the_power_mean_sits_between_the_mean_and_the_worst_term_and_pulls_hardest_on_the_worst():
    present = torch.ones(2, 2, dtype=torch.bool)
    terms = torch.tensor([0.02, 0.04, 0.04, 0.3], requires_grad=True)
    mean = term_mean([terms], present, None).detach()
    assert float(mean) == pytest.approx(0.1)
    pm = term_mean([terms], present, None, power=3.0)
    assert float(mean) < float(pm.detach()) < 0.3
    assert float(pm.detach()) == pytest.approx(((0.02**3 + 2 * 0.04**3 + 0.3**3) / 4) ** (1 / 3), rel=1e-5)
    pm.backward()
    g = terms.grad
    assert g[3] > 10 * g[1] > 10 * g[0]  # the mean's gradient would be equal for all four
    weights = torch.tensor([1.0, 0.0])  # the second row (its terms 0.04 and 0.3) weighs nothing
    assert float(term_mean([terms.detach()], present, weights, power=2.0)) == pytest.approx(
        math.sqrt((0.02**2 + 0.04**2) / 2), rel=1e-5)


def test_instance_boxes_give_each_instance_its_share_of_its_names_target():
    layout = _three_birds_layout()
    masks, index, share, ids = instance_boxes(layout, (4, 12, 12))
    assert masks.shape == (4, 4, 12, 12) and index.tolist() == [0, 0, 0, 1] and ids == [0, 1, 2, 3]
    # three separate birds: each box holds about a third of the name's Gaussian mass (σ = side/4)
    assert ((share[:3] > 0.25) & (share[:3] < 1 / 3)).all(), share
    assert ((share[3] > 0.75) & (share[3] < 1.0)).all(), share  # the cat alone holds most of its own
    # the moving cat's box moves with it, frame by frame
    cols = [int(masks[3, f].sum(dim=0).nonzero()[0]) for f in range(4)]
    assert cols == sorted(cols) and cols[-1] > cols[0] + 6


def test_instance_term_is_zero_on_the_target_and_flags_a_missing_instance_that_jsd_hardly_sees():
    layout = _three_birds_layout()
    grid = (4, 12, 12)
    targets, present = layout_targets(layout, grid)
    masks, index, share, _ = instance_boxes(layout, grid)
    assert float(instance_loss([targets], masks, index, share)) == pytest.approx(0.0, abs=1e-6)
    # the bird map drops the third bird: the other two take its mass
    dropped = targets.clone()
    dropped[0] = normalize_maps(sum(gaussian_box(b, 12, 12) for b in ([0.0, 0.0, 0.3, 0.3], [0.7, 0.0, 1.0, 0.3]))
                                .expand(4, 12, 12))
    # the JSD, averaged with the matched cat, falls below the shipped early stop (0.1) with a bird missing
    assert float(alignment_loss([dropped], targets, present)) < 0.1
    term = float(instance_loss([dropped], masks, index, share))
    # the third bird holds nothing in each frame (term 1), the others over-fill theirs (0): 4 of 16 terms are 1
    assert term == pytest.approx(4 / 16, abs=0.02)
    # a weight on the dropped bird raises its part; weights of 1 change nothing
    assert float(instance_loss([dropped], masks, index, share, torch.ones(4))) == pytest.approx(term, rel=1e-6)
    weighted = float(instance_loss([dropped], masks, index, share, torch.tensor([1.0, 1.0, 3.0, 1.0])))
    assert weighted == pytest.approx(3 * 4 / (4 + 4 + 3 * 4 + 4), abs=0.02)
    with pytest.raises(ValueError, match="all zero"):
        instance_loss([dropped], masks, index, share, torch.zeros(4))
