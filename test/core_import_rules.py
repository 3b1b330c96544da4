"""Which module names the core layer must not import: ROS and the package's own ros layer.

Not a test module, and it imports nothing: ``test_import_direction.py`` applies
:func:`is_forbidden` to the imports it reads from the core's source, and the fresh
interpreter of its dynamic check imports this file (from test/, before any core module) to
refuse the same names at import time, so both checks follow one rule.
"""

FORBIDDEN_EXACT = ('rclpy', 'cv_bridge', 'launch', 'message_filters', 'ament_index_python',
                   'jepa_world_model.ros')
FORBIDDEN_PREFIXES = ('launch_',)
FORBIDDEN_SUFFIXES = ('_msgs', '_srvs', '_interfaces')


def is_forbidden(name):
    """Tell whether importing the dotted module ``name`` is off limits for the core."""
    top = name.split('.')[0]
    for exact in FORBIDDEN_EXACT:
        if name == exact or name.startswith(exact + '.'):
            return True
    return top.startswith(FORBIDDEN_PREFIXES) or top.endswith(FORBIDDEN_SUFFIXES)
