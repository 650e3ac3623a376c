"""The package face: what ``import sklearn_aift`` loads and exposes, and what set-up needs."""

import subprocess
import sys
from pathlib import Path

import pytest

import sklearn_aift


def _run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=300)


@pytest.mark.slow
def test_import_loads_no_web_framework():
    result = _run_python(
        "import sys, sklearn_aift, sklearn_aift.cli\n"
        "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn') if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_missing_web_framework_says_which_extra_to_install():
    result = _run_python(
        "import sys\n"
        "sys.modules['fastapi'] = None\n"
        "from sklearn_aift import create_app\n"
    )
    assert result.returncode != 0
    assert "pip install 'sklearn-aift[app]'" in result.stderr


def test_public_names_resolve():
    for name in sklearn_aift.__all__:
        assert getattr(sklearn_aift, name) is not None
    assert callable(sklearn_aift.create_app)
    assert sklearn_aift.generate_token is sklearn_aift.app.generate_token


def test_version_is_the_package_version():
    from sklearn_aift.utils._version import __version__

    assert sklearn_aift.__version__ == __version__
    assert __version__.count(".") == 2


@pytest.mark.slow
def test_make_demo_installs_no_browser_and_make_test_does():
    root = Path(__file__).resolve().parents[1]

    def plan(target):
        result = subprocess.run(["make", "-n", target, "VENV=/nonexistent/venv"], cwd=root,
                                capture_output=True, text=True, check=False, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "apt-get" not in plan("demo") and "chromium" not in plan("demo")
    assert "apt-get install -y -q chromium" in plan("test")
