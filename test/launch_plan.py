"""What a launch file of this package would start, derived from its source with ast.

Not a test module. launch_ros cannot be installed where the tests run, so
test_launch_bringup.py starts the processes itself: this module reads a launch file
(never importing it), evaluates its ``generate_launch_description()`` for given launch
arguments, and returns the nodes with the arguments, parameter files, parameter
overrides and remappings launch_ros would give them, and whether the launch file drives
their lifecycle (``lifecycle_autostart``). It understands the small language the launch
files speak through launch_support.py (launch_arguments, params_file_argument,
package_config, package_node, package_process, lifecycle_autostart,
model_path_parameters, IfCondition, list ``+``, and launch_support functions that only
return an expression of their parameters, such as camera_remappings, which it evaluates
from their source); anything else raises
:class:`UnsupportedLaunchCode`, so a launch file that outgrows it fails the test loudly
instead of being half-evaluated.
"""

import ast
import functools
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import yaml

from launch_checker import (_argument_specs, _launch_support, _support_imports,
                            LAUNCH_SUPPORT_FILE)
from package_layout import _path, PACKAGE

_TRUE, _FALSE = ('true', '1'), ('false', '0')


class UnsupportedLaunchCode(ValueError):
    """The launch file uses code that this evaluator does not model."""


@dataclass
class NodeProcess:
    """One node process as launch_ros would start it.

    ``parameters``: parameter files (paths) and override dicts, in order;
    ``remappings``: ``[(from, to)]``; ``launch_drives_lifecycle``: the launch file emits
    configure, then activate on ``configuring -> inactive`` (lifecycle_autostart).
    """

    package: str
    executable: str
    name: Optional[str]       # None: a process hosting several nodes (package_process)
    namespace: str
    parameters: List[object]
    remappings: List[Tuple[str, str]]
    lifecycle: bool = True
    launch_drives_lifecycle: bool = False
    condition: Optional[bool] = None
    extra: Dict[str, object] = field(default_factory=dict)

    @property
    def full_name(self):
        """``/<namespace>/<name>``."""
        return '/'.join([''] + [p for p in self.namespace.split('/') if p]
                        + [self.name or self.executable])

    def ros_args(self, params_dir):
        """The ``--ros-args`` launch_ros passes; override dicts go to YAML files (``/**``)
        written into ``params_dir``, as launch_ros writes them."""
        args = ['--ros-args'] + (['-r', '__node:=' + self.name] if self.name else [])
        if self.namespace:
            args += ['-r', '__ns:=' + '/' + self.namespace.strip('/')]
        for index, params in enumerate(self.parameters):
            if isinstance(params, dict):
                path = os.path.join(params_dir, '%s_%s_%d.yaml' % (
                    self.namespace.strip('/').replace('/', '_'), self.name or self.executable,
                    index))
                with open(path, 'w', encoding='utf-8') as handle:
                    yaml.safe_dump({'/**': {'ros__parameters': params}}, handle)
                params = path
            args += ['--params-file', params]
        for source, target in self.remappings:
            args += ['-r', '%s:=%s' % (source, target)]
        return args


def is_true(value):
    """launch's truth test of a condition value ('true'/'1', 'false'/'0', any case)."""
    text = str(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError('not a launch boolean: %r' % (value,))


@functools.lru_cache(maxsize=1)
def _returned_expressions():
    """``{name: (parameter names, returned expression)}`` of the launch_support functions
    whose body is only a docstring and ``return <expression>``.

    Why: the launch files' rules (camera_remappings) are evaluated from their one source, not
    restated here, so the plan follows a change of the rule.
    """
    with open(_path(LAUNCH_SUPPORT_FILE), encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), filename=LAUNCH_SUPPORT_FILE)
    found = {}
    for node in tree.body:
        body = node.body if isinstance(node, ast.FunctionDef) else []
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
            args = node.args
            found[node.name] = ([a.arg for a in args.posonlyargs + args.args + args.kwonlyargs],
                                body[0].value)
    return found


class _Evaluator:
    """Evaluates the statements of generate_launch_description() in order."""

    def __init__(self, tree, arguments):
        self.support = {local: real for local, real in _support_imports(tree).items()
                        if real in _launch_support()['functions']}
        self.env = {}
        self.args = arguments
        self.config_dicts = set()

    def value(self, node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            return {self.value(k): self.value(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.Name) and node.id in self.env:
            return self.env[node.id]
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id in self.config_dicts and isinstance(node.slice, ast.Constant):
            return _Configuration(self.args[node.slice.value])
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.value(node.left) + self.value(node.right)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self.call(node)
        raise UnsupportedLaunchCode('line %d: %s' % (node.lineno, ast.dump(node)[:80]))

    def call(self, node):
        name = self.support.get(node.func.id, node.func.id)
        kwargs = {k.arg: self.value(k.value) for k in node.keywords}
        args = [self.value(a) for a in node.args]
        if name == 'package_config':
            return _path('config', 'ros', args[0])
        if name == 'IfCondition':
            return _Condition(args[0])
        if name == 'package_node':
            condition = kwargs.get('condition')
            return NodeProcess(
                package=PACKAGE, executable=kwargs['executable'], name=kwargs['executable'],
                namespace=_text(kwargs['namespace']),
                parameters=[_parameters(p) for p in kwargs['parameters']],
                remappings=[(_text(a), _text(b)) for a, b in kwargs['remappings']],
                lifecycle=kwargs.get('lifecycle', True),
                condition=None if condition is None else condition.holds())
        if name == 'package_process':
            return NodeProcess(
                package=PACKAGE, executable=kwargs['executable'], name=None,
                namespace=_text(kwargs['namespace']),
                parameters=[_parameters(p) for p in kwargs['parameters']],
                remappings=[(_text(a), _text(b)) for a, b in kwargs['remappings']],
                lifecycle=False)
        if name == 'lifecycle_autostart':
            process = args[0]
            process.launch_drives_lifecycle = is_true(_text(args[1]))
            only_if = kwargs.get('only_if', args[2] if len(args) > 2 else None)
            if only_if is not None:
                process.condition = is_true(_text(only_if))
            return [process]
        if name == 'LaunchDescription':
            return args[0]
        if name == 'model_path_parameters':
            # Its substitution: a /** file setting model_path, or (argument empty) the
            # parameter file again.
            model_path, fallback = args
            text = _text(model_path).strip()
            return {'model_path': text} if text else fallback
        if name in self.support.values() and name in _returned_expressions():
            return self.inline(*_returned_expressions()[name], args, kwargs)
        raise UnsupportedLaunchCode('line %d: call of %s' % (node.lineno, name))

    def inline(self, parameters, expression, args, kwargs):
        """Evaluate a launch_support function's returned ``expression`` for these arguments."""
        outer = self.env
        self.env = dict(zip(parameters, args), **kwargs)
        try:
            return self.value(expression)
        finally:
            self.env = outer

    def run(self, function):
        for statement in function.body:
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                continue                                          # docstring
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call) \
                    and self.support.get(getattr(statement.value.func, 'id', None)) \
                    == 'launch_arguments':
                declarations, configurations = statement.targets[0].elts
                self.env[declarations.id] = []
                self.config_dicts.add(configurations.id)
            elif isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                    and isinstance(statement.targets[0], ast.Name):
                self.env[statement.targets[0].id] = self.value(statement.value)
            elif isinstance(statement, ast.Return):
                return self.value(statement.value)
            else:
                raise UnsupportedLaunchCode('line %d: statement %s'
                                            % (statement.lineno, type(statement).__name__))
        raise UnsupportedLaunchCode('generate_launch_description() returns nothing')


class _Configuration(str):
    """A launch argument's value (a LaunchConfiguration), as launch_ros receives it."""


class _Condition:
    def __init__(self, value):
        self.value = value

    def holds(self):
        return is_true(_text(self.value))


def _text(value):
    """A substitution's text; a list of substitutions is concatenated, as launch does."""
    if isinstance(value, list):
        return ''.join(_text(v) for v in value)
    return str(value)


def _parameters(entry):
    """A parameter file path, or an override dict with launch_ros's typing: a value from a
    launch argument is parsed as YAML ('false' -> False), a literal keeps its type."""
    if isinstance(entry, dict):
        return {key: yaml.safe_load(value) if isinstance(value, _Configuration) else value
                for key, value in entry.items()}
    return _text(entry)


def argument_defaults(tree):
    """``{argument: default}`` of a launch file; a params_file_argument() default is the
    path of its file in config/ros/ (as installed under share/jepa_world_model/config/ros)."""
    defaults = {}
    for spec, name, default in _argument_specs(tree):
        if isinstance(spec, ast.Call) and len(spec.args) > 1:
            default = _path('config', 'ros', spec.args[1].value)
        elif isinstance(spec, ast.Tuple) and len(spec.elts) > 1 \
                and isinstance(spec.elts[1], ast.Call):
            default = _path('config', 'ros', spec.elts[1].args[0].value)   # package_config(file)
        defaults[name] = default
    return defaults


def launch_plan(path, **arguments):
    """The node processes ``path`` starts with these launch arguments (others: defaults).

    Nodes whose condition is false are left out. Raises KeyError for an undeclared
    argument and :class:`UnsupportedLaunchCode` for code the evaluator does not model.
    """
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), filename=path)
    values = argument_defaults(tree)
    unknown = set(arguments) - set(values)
    if unknown:
        raise KeyError('%s declares no argument %s' % (os.path.basename(path), sorted(unknown)))
    values.update(arguments)
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef)
                    and node.name == 'generate_launch_description')
    actions = _Evaluator(tree, values).run(function)
    return [a for a in actions if isinstance(a, NodeProcess) and a.condition is not False]
