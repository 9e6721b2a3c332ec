"""The README's `pip install ./firmware[host]` in a new venv, from a
checkout and from an sdist built from it: both commands start. Run on a
copy of firmware/ (pip builds in place and would leave build/ and
*.egg-info in the checkout)."""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def venv(path):
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return os.path.join(str(path), "bin")


def installed_commands_start(bindir, target):
    subprocess.run([os.path.join(bindir, "pip"), "install", "-q", target], check=True, capture_output=True)
    for cmd in ("outpost-console", "outpost"):
        out = subprocess.run([os.path.join(bindir, cmd), "--help"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.startswith("usage: " + cmd), (cmd, out.stdout, out.stderr)


def test_pip_install_of_the_checkout_and_of_its_sdist_gives_both_commands(tmp_path):
    src = tmp_path / "firmware"
    shutil.copytree(os.path.join(ROOT, "firmware"), str(src), ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    installed_commands_start(venv(tmp_path / "v1"), str(src) + "[host]")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))",
                    str(dist)], cwd=str(src), check=True, capture_output=True)
    sdist = [f for f in os.listdir(str(dist)) if f.endswith(".tar.gz")][0]
    installed_commands_start(venv(tmp_path / "v2"), os.path.join(str(dist), sdist) + "[host]")
