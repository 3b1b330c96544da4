"""Shared pytest set-up: DDS isolation, an rclpy context fixture, and ``ros`` mark handling.

DDS isolation happens at import time of this file, i.e. before any test module (and so
before rclpy) is imported, and is inherited by every subprocess a test starts:

* ``ROS_DOMAIN_ID`` is set to a random value in [``DOMAIN_ID_MIN``, ``DOMAIN_ID_MAX``]
  so parallel CI runs on one host do not receive each other's traffic. The range stays
  within 0..101, the IDs that are safe on Linux: higher IDs map DDS ports into the
  ephemeral port range. Set ``JWM_TEST_ROS_DOMAIN_ID`` to pin a value.
* discovery is limited to this host: ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` (Iron
  and later) or ``ROS_LOCALHOST_ONLY=1`` on Humble, which has only the older variable.

Tests marked ``ros`` are skipped, with the reason, when rclpy cannot be imported. With
``JWM_REQUIRE_ROS=1`` (set by ``make test``, where the bootstrap guarantees rclpy) they
fail instead, so a broken ROS set-up cannot hide behind skips.
"""

import os
import random

import pytest

DOMAIN_ID_MIN = 20
DOMAIN_ID_MAX = 101
_LEGACY_LOCALHOST_DISTROS = ('foxy', 'galactic', 'humble')


def _isolate_dds(environ):
    """Set a random ROS_DOMAIN_ID and localhost-only discovery in ``environ``."""
    pinned = environ.get('JWM_TEST_ROS_DOMAIN_ID')
    if pinned:
        environ['ROS_DOMAIN_ID'] = pinned
    else:
        environ['ROS_DOMAIN_ID'] = str(random.SystemRandom().randint(
            DOMAIN_ID_MIN, DOMAIN_ID_MAX))
    if environ.get('ROS_DISTRO', '').lower() in _LEGACY_LOCALHOST_DISTROS:
        environ['ROS_LOCALHOST_ONLY'] = '1'
    else:
        # On Jazzy ROS_LOCALHOST_ONLY=1 is deprecated and overrides the range with a warning.
        environ.pop('ROS_LOCALHOST_ONLY', None)
        environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
        environ.pop('ROS_STATIC_PEERS', None)


_isolate_dds(os.environ)

#: Examples per fuzz test in the ``ci`` profile (tests running a model use a fraction).
FUZZ_EXAMPLES = 60


def _register_hypothesis_profiles(environ):
    """Profiles of the property-based fuzz tests (test/test_fuzz_*.py).

    ``ci`` (the default) is deterministic and quick: derandomized, so every run tries the
    same examples, and no example database, so no run depends on an earlier one (hypothesis
    still caches constants in ``.hypothesis/``, which is git-ignored).
    ``thorough`` (``HYPOTHESIS_PROFILE=thorough``) draws random examples, ten times as many,
    for a search before a release or after changing a converter.
    """
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:   # only the fuzz tests need it (requirements-dev.txt)
        return
    # Examples are slow on a loaded 2-core machine: no per-example deadline, no health check
    # that fails a test for it; the suite's budget is held by max_examples instead.
    common = dict(deadline=None, database=None, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    settings.register_profile('ci', derandomize=True, max_examples=FUZZ_EXAMPLES, **common)
    settings.register_profile('thorough', max_examples=10 * FUZZ_EXAMPLES, **common)
    settings.load_profile(environ.get('HYPOTHESIS_PROFILE', 'ci'))


_register_hypothesis_profiles(os.environ)

_RCLPY_STATUS = {}


def rclpy_import_error():
    """Return None if rclpy imports in this process, else a one-line reason (cached)."""
    if 'error' not in _RCLPY_STATUS:
        try:
            import rclpy  # noqa: F401
            _RCLPY_STATUS['error'] = None
        except ImportError as exc:
            _RCLPY_STATUS['error'] = '%s: %s' % (type(exc).__name__, exc)
    return _RCLPY_STATUS['error']


def pytest_report_header(config):
    """Show the DDS isolation settings at the top of the test report."""
    return 'ROS_DOMAIN_ID=%s ROS_AUTOMATIC_DISCOVERY_RANGE=%s ROS_LOCALHOST_ONLY=%s' % (
        os.environ.get('ROS_DOMAIN_ID'),
        os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE', '-'),
        os.environ.get('ROS_LOCALHOST_ONLY', '-'))


def pytest_collection_modifyitems(config, items):
    """Skip (or, with JWM_REQUIRE_ROS=1, fail) ``ros`` tests when rclpy is unavailable."""
    ros_items = [item for item in items if item.get_closest_marker('ros') is not None]
    if not ros_items:
        return
    error = rclpy_import_error()
    if error is None:
        return
    reason = ('rclpy cannot be imported (%s); source ROS 2 (e.g. /opt/ros/jazzy/setup.bash) '
              'or run the tests with .venv/bin/python after scripts/bootstrap.sh' % error)
    if os.environ.get('JWM_REQUIRE_ROS') == '1':
        raise pytest.UsageError('JWM_REQUIRE_ROS=1 but ' + reason)
    for item in ros_items:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope='module')
def one_torch_thread():
    """One torch thread for a module: fastest for tiny models on a shared CPU; restored
    afterwards. Use with ``pytestmark = pytest.mark.usefixtures('one_torch_thread')``."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='session')
def ros_domain_id():
    """Return the ROS_DOMAIN_ID this test session (and its subprocesses) uses."""
    return int(os.environ['ROS_DOMAIN_ID'])


@pytest.fixture
def rclpy_context(ros_domain_id):
    """Yield a fresh, initialised ``rclpy.context.Context``; shut it down afterwards."""
    error = rclpy_import_error()
    if error is not None:
        pytest.skip('rclpy cannot be imported: %s' % error)
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)
