"""Where the package's files are and what setup.py declares, for the packaging tests.

Not a test module. setup.py is evaluated with ``setuptools.setup`` replaced, so nothing
here needs ROS or installs anything.
"""

import os
import runpy

import setuptools

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = 'jepa_world_model'
SHARE = 'share/' + PACKAGE


def _path(*parts):
    return os.path.join(REPO_ROOT, *parts)


def evaluate_setup_py():
    """Evaluate setup.py from the repository root and return its setup() keywords."""
    captured = {}
    original_setup = setuptools.setup
    original_cwd = os.getcwd()
    setuptools.setup = captured.update
    try:
        os.chdir(REPO_ROOT)
        runpy.run_path(_path('setup.py'), run_name='__main__')
    finally:
        setuptools.setup = original_setup
        os.chdir(original_cwd)
    assert captured, 'setup.py did not call setuptools.setup()'
    return captured


def _console_scripts(setup_kwargs):
    scripts = {}
    for entry in setup_kwargs['entry_points']['console_scripts']:
        name, target = (part.strip() for part in entry.split('=', 1))
        scripts[name] = target
    return scripts
