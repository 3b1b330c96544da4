"""flake8 over the package, tests, benchmarks and launch files (99 columns, as ament)."""

import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ('jepa_world_model', 'test', 'benchmarks', 'launch')


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    """No flake8 errors or warnings."""
    try:
        import flake8  # noqa: F401
    except ImportError:
        pytest.skip('flake8 is not installed (pip install -r requirements-dev.txt)')
    targets = [t for t in TARGETS if os.path.isdir(os.path.join(REPO_ROOT, t))]
    result = subprocess.run(
        [sys.executable, '-m', 'flake8', '--max-line-length=99', *targets],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    errors = [line for line in result.stdout.splitlines() if line.strip()]
    assert result.returncode == 0, 'Found %d code style errors / warnings:\n%s%s' % (
        len(errors), '\n'.join(errors), result.stderr)
