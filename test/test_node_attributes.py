"""No node class of the package may replace what rclpy's ``Node``/``LifecycleNode`` own.

planner_node once assigned ``self._services = []`` in ``__init__``: that replaced rclpy
Node's list of services, so the lifecycle and parameter services were never served. This
static check parses rclpy's node classes (no import, no DDS) for every attribute their
methods assign on ``self`` and every method they define, then parses every class of the
package (and the benchmarks) that derives from a node class, and fails on

* an assignment ``self.<name> = ...`` (also annotated, augmented, in a tuple, or through
  ``setattr(self, '<name>', ...)``) of a name rclpy's classes own;
* a private method (``_name``) that shares a name with one of rclpy's: it silently replaces
  rclpy's own (public ones like ``on_configure`` are hooks meant to be overridden).
"""

import ast
import importlib.util
import os

import pytest

pytestmark = pytest.mark.ros   # reads rclpy's sources (never imports them)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCANNED = ('jepa_world_model', 'benchmarks')
# rclpy's files and the classes in them that a node class inherits from.
RCLPY_CLASSES = {'node.py': ('Node',),
                 os.path.join('lifecycle', 'node.py'): ('LifecycleNodeMixin', 'LifecycleNode'),
                 os.path.join('lifecycle', 'managed_entity.py'): ('ManagedEntity',)}
NODE_BASES = {'Node', 'LifecycleNode'}


def _self_targets(node):
    """Names ``self.<name>`` assigned by an assignment node (tuples unpacked)."""
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        stack = list(targets)
        while stack:
            t = stack.pop()
            if isinstance(t, (ast.Tuple, ast.List)):
                stack.extend(t.elts)
            elif isinstance(t, ast.Starred):
                stack.append(t.value)
            elif (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                  and t.value.id == 'self'):
                yield t.attr, t.lineno
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
          and node.func.id == 'setattr' and len(node.args) >= 2
          and isinstance(node.args[0], ast.Name) and node.args[0].id == 'self'
          and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
        yield node.args[1].value, node.lineno


def _members(cls):
    """(assigned self attributes, method names) of a class definition."""
    assigned = {name for node in ast.walk(cls) for name, _ in _self_targets(node)}
    methods = {n.name for n in cls.body if isinstance(n, (ast.FunctionDef,
                                                          ast.AsyncFunctionDef))}
    return assigned, methods


def rclpy_owned():
    """Names rclpy's node classes own: (attributes and methods, private methods)."""
    spec = importlib.util.find_spec('rclpy')
    if spec is None or not spec.submodule_search_locations:
        pytest.skip('rclpy is not installed')
    root = list(spec.submodule_search_locations)[0]
    owned, methods = set(), set()
    for rel, names in RCLPY_CLASSES.items():
        with open(os.path.join(root, rel), encoding='utf-8') as f:
            tree = ast.parse(f.read())
        classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name in names]
        assert {c.name for c in classes} == set(names), f'rclpy {rel} changed its classes'
        for cls in classes:
            assigned, defined = _members(cls)
            owned |= assigned | defined
            methods |= defined
    # self.__x is mangled per class: a subclass's own __x cannot collide with rclpy's.
    owned = {n for n in owned if not n.startswith('__')}
    return owned, {n for n in methods if n.startswith('_') and not n.startswith('__')}


def package_classes():
    """``[(path, ClassDef)]`` of every class under SCANNED."""
    found = []
    for top in SCANNED:
        for dirpath, dirnames, filenames in os.walk(os.path.join(REPO_ROOT, top)):
            dirnames[:] = [d for d in dirnames if d != '__pycache__']
            for filename in sorted(f for f in filenames if f.endswith('.py')):
                path = os.path.join(dirpath, filename)
                with open(path, encoding='utf-8') as f:
                    tree = ast.parse(f.read(), path)
                found += [(path, n) for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    return found


def _base_name(base):
    if isinstance(base, ast.Attribute):
        return base.attr
    return base.id if isinstance(base, ast.Name) else ''


def node_classes(classes):
    """The classes that derive (by name, transitively) from rclpy's Node/LifecycleNode."""
    names = set(NODE_BASES)
    while True:
        more = {c.name for _, c in classes if {_base_name(b) for b in c.bases} & names}
        if more <= names:
            return [(p, c) for p, c in classes if c.name in names]
        names |= more


def violations(classes, owned, private_methods):
    """``['file:line Class: what']`` for every clash."""
    found = []
    for path, cls in node_classes(classes):
        where = os.path.relpath(path, REPO_ROOT)
        for node in ast.walk(cls):
            for name, line in _self_targets(node):
                if name in owned:
                    found.append(f'{where}:{line} {cls.name}: assigns self.{name}, '
                                 "which is rclpy's")
        for item in cls.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and item.name in private_methods:
                found.append(f'{where}:{item.lineno} {cls.name}: defines {item.name}(), '
                             "which replaces rclpy's")
    return found


def test_the_scan_finds_the_node_classes_and_rclpys_names():
    """The check sees the nodes it guards and the names that broke planner_node."""
    owned, private_methods = rclpy_owned()
    assert {'_services', '_timers', '_subscriptions', '_publishers', '_clients', '_guards',
            '_parameters', '_context', '_logger', '_clock', '_callbacks', '_state_machine',
            '_managed_entities', 'executor', 'get_logger'} <= owned
    assert '_set_parameters_atomically' in private_methods
    names = {c.name for _, c in node_classes(package_classes())}
    assert {'WorldModelNode', 'PlannerCore', 'PlannerNode', 'GuardedLifecycleNode',
            'SimNode', 'DriverNode', 'RecorderNode', 'BaseRecorderNode'} <= names
    bad = ast.parse('class P(LifecycleNode):\n    def __init__(self):\n'
                    '        self._services, self.x = [], 1\n'
                    '        setattr(self, "_timers", [])\n'
                    '    def _set_parameters_atomically(self):\n        pass\n')
    found = violations([('x.py', bad.body[0])], owned, private_methods)
    assert len(found) == 3, found


def test_no_node_class_replaces_an_attribute_or_method_rclpy_owns():
    """Every node class keeps its own state under names rclpy does not use."""
    owned, private_methods = rclpy_owned()
    found = violations(package_classes(), owned, private_methods)
    assert not found, '\n'.join(found)
