import json
import subprocess
import sys

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
