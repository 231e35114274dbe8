import json
import subprocess
import sys

import pytest

from ttom import __version__


def _ttom(*args, **kw):
    return subprocess.run([sys.executable, "-m", "ttom.cli", *args], capture_output=True, text=True, timeout=120, **kw)


def test_version_and_help():
    r = _ttom("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"ttom {__version__}"
    r = _ttom("--help")
    assert r.returncode == 0
    for cmd in ("generate", "probe", "bench"):
        assert cmd in r.stdout


def test_help_does_not_import_torch():
    code = "import sys; from ttom.cli import app; print('torch' in sys.modules, 'diffusers' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["False", "False"], r.stdout + r.stderr


def test_bad_input_gives_one_clear_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"prompt": "a dog", "objects": [
        {"id": 0, "name": "dog", "phrase": "a dog", "keyframes": [{"t": 0, "box": [0.5, 0.1, 0.2, 0.3]}]}]}))
    r = _ttom("generate", "a dog", "--layout", str(bad), "--model", "tiny-cogvideox", "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert "objects.0.keyframes.0.box" in r.stderr and "Traceback" not in r.stderr
    r = _ttom("generate", "   ", "--model", "tiny-cogvideox")
    assert r.returncode == 2 and "prompt is empty" in r.stderr
    r = _ttom("generate", "a dog", "--model", "no-such-model", "--layout", str(bad))
    assert r.returncode == 2


def _options_of(command) -> dict[str, set[str]]:
    import typer.main

    from ttom.cli import app

    cmd = typer.main.get_command(app).commands[command]
    return {p.name: set(p.opts) for p in cmd.params}


def test_generate_and_chat_share_one_run_option_set():
    from ttom.cli.options import _RUN_OPTIONS

    gen, chat = _options_of("generate"), _options_of("chat")
    for name in _RUN_OPTIONS:
        assert name in gen and gen[name] == chat[name], name
    assert "--tto-iterations" in gen["tto_iterations"] and "--tto-iters" in gen["tto_iterations"]


def test_run_options_reach_the_agent_with_ttoconfig_names():
    from ttom.agents.state import RunOptions
    from ttom.cli.options import _RUN_OPTIONS, to_run_options

    values = {name: default for name, (_, default) in _RUN_OPTIONS.items()}
    values.update(tto_steps=2, tto_iterations=3, lr=0.01, layers="1,2", checkpointing="all", no_tto=True, seed=7)
    opts = RunOptions.model_validate(to_run_options(values))
    assert (opts.tto.steps, opts.tto.iterations, opts.tto.lr, opts.tto.layers) == (2, 3, 0.01, [1, 2])
    assert opts.tto.gradient_checkpointing is True and opts.tto.mode == "off" and not opts.tto.enabled
    assert opts.seed == 7 and opts.steps is None  # steps: denoising steps, left to the recipe


@pytest.mark.parametrize("args, named", [
    (["generate", "x", "--critic", "bogus"], "'bogus' is not one of"),
    (["generate", "x", "--tto-mode", "tepid"], "'tepid' is not one of"),
    (["generate", "x", "--dtype", "fp64"], "'fp64' is not one of"),
    (["generate", "x", "--device", "bogus"], "is not a device"),
    (["generate", "x", "--planner", "gpt"], "'gpt' is not one of"),
    (["chat", "--memory-mode", "cold"], "'cold' is not one of"),
    (["plan", "x", "--format", "xml"], "'xml' is not one of"),
    (["generate", "x", "--tto-steps", "-1"], "--tto-steps"),
])
def test_choice_options_are_checked_when_parsed(args, named):
    r = _ttom(*args, env={**__import__("os").environ, "COLUMNS": "200"})
    assert r.returncode == 2 and named in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_help_lists_the_choices():
    r = _ttom("generate", "--help", env={**__import__("os").environ, "COLUMNS": "200"})
    for choices in ("fresh|warm|skip|off", "auto|shapes|transformers|sam2|off", "auto|offline|llm", "auto|fp32|bf16|fp16"):
        assert choices in r.stdout, choices


def test_markup_in_data_is_printed_as_text(tmp_path):
    """Object phrases (from --layout or an LLM) reach the terminal as text, never as rich markup (issue 18, item 8)."""
    prompt = "a red dog"
    lay = {"prompt": prompt, "objects": [
        {"id": 0, "name": "dog", "phrase": "[/bold] red dog [link=file:///etc/passwd]x[/link]",
         "keyframes": [{"t": 0, "box": [0.1, 0.1, 0.5, 0.5]}, {"t": 1, "box": [0.4, 0.1, 0.8, 0.5]}]}]}
    f = tmp_path / "lay.json"
    f.write_text(json.dumps(lay))
    env = {**__import__("os").environ, "COLUMNS": "300", "TTOM_CACHE_DIR": str(tmp_path / "cache")}
    r = _ttom("generate", prompt, "--layout", str(f), "--model", "tiny-cogvideox", "--steps", "2", "--no-tto",
              "--critic", "off", "--no-memory", "--device", "cpu", "--out", str(tmp_path / "o"), env=env)
    assert r.returncode == 0, r.stderr
    assert "[/bold] red dog [link=file:///etc/passwd]x[/link]" in r.stderr


@pytest.mark.parametrize("args, named", [
    (["--seed", "18446744073709551616"], "seed"),
    (["--seed", "-1"], "seed"),
    (["--frames", "100001"], "frames"),
    (["--model", ""], "model"),
    (["--guidance", "nan"], "guidance: Input should be a finite number"),
    (["--loss-threshold", "nan"], "tto.loss_threshold: Input should be a finite number"),
    (["--lr", "inf"], "tto.lr"),
    (["--layers=-1"], "--layers"),
    (["--max-rounds", "1000"], "max_rounds"),
])
def test_unbounded_or_non_finite_options_are_refused_before_anything_starts(args, named, tmp_path):
    env = {**__import__("os").environ, "COLUMNS": "200", "TTOM_CACHE_DIR": str(tmp_path / "cache")}
    r = _ttom("generate", "a red circle", *args, env=env)
    assert r.returncode == 2 and named in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "cache").exists()  # no checkpoint, memory or run folder was made


def test_many_objects_are_refused_with_a_clear_line_and_boxes_stay_valid():
    from ttom.layout import MAX_OBJECTS
    from ttom.planning.errors import PlannerError
    from ttom.planning.plan import plan

    nouns = ("cat dog bird car tree house ball box cup chair table lamp book pen phone bottle apple banana orange "
             "horse cow sheep pig duck goat bike bus truck boat plane train kite drum flag").split()
    for n in (12, 20, MAX_OBJECTS):
        layout = plan(", ".join(f"a {w}" for w in nouns[:n]), planner="offline").layout
        assert len(layout.objects) == n  # every box valid: the Layout would not exist otherwise
    assert len(plan(f"{MAX_OBJECTS} cats", planner="offline").layout.objects) == MAX_OBJECTS
    with pytest.raises(PlannerError, match=f"at most {MAX_OBJECTS}"):
        plan(", ".join(f"a {w}" for w in nouns[:MAX_OBJECTS + 1]), planner="offline")
    r = _ttom("plan", ", ".join(f"a {w}" for w in nouns[:MAX_OBJECTS + 1]), "--planner", "offline")
    assert r.returncode == 2 and "at most 32" in r.stderr and "Traceback" not in r.stderr


def test_unreadable_inputs_are_one_clear_line(tmp_path):
    import numpy as np

    from ttom.video import write_video

    lay = tmp_path / "lay.json"
    r = _ttom("plan", "a red circle moving right", "--planner", "offline")
    lay.write_text(r.stdout)
    good = tmp_path / "good.mp4"
    write_video(np.zeros((8, 32, 32, 3), np.uint8), good, fps=4)
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video")
    (tmp_path / "cut.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00 not utf-8")
    (tmp_path / "afile").write_text("x")
    cases = [
        (["critic", str(tmp_path / "zero.mp4"), "--layout", str(lay)], "is empty"),
        (["critic", str(tmp_path / "text.mp4"), "--layout", str(lay)], "cannot be read as a video"),
        (["critic", str(tmp_path / "cut.mp4"), "--layout", str(lay)], "cannot be read as a video"),
        (["critic", str(good), "--layout", str(lay), "--overlay", str(tmp_path)], "--overlay"),
        (["critic", str(good), "--layout", str(tmp_path / "bad.txt")], "not a UTF-8 text file"),
        (["plan", "--file", str(tmp_path / "bad.txt")], "not UTF-8 text"),
        (["generate", "a dog", "--out", str(tmp_path / "afile")], "is a file"),
        (["generate", "a dog", "--layout", str(tmp_path / "bad.txt")], "not a UTF-8 text file"),
    ]
    for args, needle in cases:
        r = _ttom(*args, env={**__import__("os").environ, "TTOM_CACHE_DIR": str(tmp_path / "cache")})
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_a_prompt_with_nothing_drawable_is_refused_before_any_model_work(tmp_path):
    env = {**__import__("os").environ, "TTOM_CACHE_DIR": str(tmp_path / "cache")}
    r = _ttom("generate", "purple monkey dishwasher flibbertigibbet", "--model", "tiny-cogvideox", "--out",
              str(tmp_path / "o"), env=env)
    assert r.returncode == 2 and "nothing to draw" in r.stderr and "'flibbertigibbet'" in r.stderr
    assert not (tmp_path / "o" / "rounds").exists() and not (tmp_path / "cache" / "memory.sqlite").exists()
    # a made-up word beside a known thing is still planned (the known thing is drawn)
    r = _ttom("plan", "a dog next to a flibbertigibbet", "--planner", "offline")
    assert r.returncode == 0 and '"dog"' in r.stdout


def test_generate_prints_ttoms_progress_without_library_noise(tmp_path):
    """No transformers 'Loading weights' bar, no ffmpeg warning: only ttom's own lines (issue 18)."""
    env = {**__import__("os").environ, "TTOM_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
    r = _ttom("generate", "a red circle moving right", "--model", "tiny-cogvideox", "--steps", "2", "--tto-steps", "1",
              "--tto-iterations", "1", "--critic", "off", "--device", "cpu", "--out", str(tmp_path / "o"), env=env)
    assert r.returncode in (0, 3), r.stderr
    assert "plan (offline)" in r.stderr and "memory" in r.stderr
    for noise in ("Loading weights", "pix_fmt", "libx264 @", "it/s]"):
        assert noise not in r.stderr, (noise, r.stderr)
