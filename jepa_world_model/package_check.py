"""Check that the ROS 2 packages a launch file starts nodes from are installed.

Launch files call this (through ``start_after_package_check`` in launch_support.py) before
any action that starts a process: a missing package then stops the launch with one clear
message and nothing running, instead of failing halfway and leaving the nodes already
started behind. Unlike launch_support.py this module imports no launch package, so the
tests exercise it directly; ament_index_python is imported only when a check runs.
"""

import os

__all__ = ['MissingPackagesError', 'missing_packages', 'require_packages']


class MissingPackagesError(RuntimeError):
    """Raised before anything is started when required ROS 2 packages are not installed."""


def missing_packages(packages):
    """Return the names in ``packages`` that the ament index does not know, in order.

    An unset or empty ``AMENT_PREFIX_PATH`` (no ROS 2 environment sourced) makes every
    package missing.
    """
    from ament_index_python.packages import (get_package_share_directory,
                                             PackageNotFoundError)
    missing = []
    for package in dict.fromkeys(packages):       # unique, order kept
        try:
            get_package_share_directory(package)
        except (PackageNotFoundError, EnvironmentError):
            # EnvironmentError: ament_index_python's answer to an unset AMENT_PREFIX_PATH.
            missing.append(package)
    return missing


def _apt_name(package):
    return 'ros-%s-%s' % (os.environ.get('ROS_DISTRO') or '<distro>', package.replace('_', '-'))


def require_packages(packages, what='this launch file'):
    """Raise :class:`MissingPackagesError` naming every package of ``packages`` not installed.

    The message names the packages, the apt packages that provide them and says that
    nothing was started; ``what`` names the caller (e.g. the launch file).
    """
    missing = missing_packages(packages)
    if not missing:
        return
    hint = ''
    if not os.environ.get('AMENT_PREFIX_PATH'):
        hint = ' AMENT_PREFIX_PATH is empty: source your ROS 2 setup.bash first.'
    raise MissingPackagesError(
        '%s needs ROS 2 package%s that %s not installed: %s (e.g. sudo apt install %s). '
        'Nothing was started.%s' % (
            what, 's' if len(missing) > 1 else '', 'are' if len(missing) > 1 else 'is',
            ', '.join(missing), ' '.join(_apt_name(p) for p in missing), hint))
