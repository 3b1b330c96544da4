"""Static checker of Python launch files: check_launch_source() and its helpers.

Not a test module. launch_ros is not importable everywhere, so launch files are parsed
with ast, never imported. The helpers they share, jepa_world_model/launch_support.py,
import launch_ros too: they are parsed as well (read_launch_support()).
"""

import ast
import functools
import os

from package_layout import _path, PACKAGE

PACKAGE_SHARE_FUNCS = ('FindPackageShare', 'get_package_share_directory',
                       'get_package_share_path')
PATH_JOIN_FUNCS = ('join', 'PathJoinSubstitution', 'joinpath')


def _string_bindings(tree):
    """Map names assigned a string constant (anywhere) to that string."""
    bindings = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bindings[target.id] = node.value.value
    return bindings


def _call_name(call):
    func = call.func
    return getattr(func, 'attr', None) or getattr(func, 'id', None)


def _share_package(call, strings):
    """Return the package of a FindPackageShare/get_package_share_* call, else None."""
    if _call_name(call) not in PACKAGE_SHARE_FUNCS:
        return None
    args = list(call.args) + [k.value for k in call.keywords if k.arg == 'package']
    if not args:
        return None
    first = args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    if isinstance(first, ast.Name):
        return strings.get(first.id)
    return None


def _is_join(node):
    return isinstance(node, ast.Call) and _call_name(node) in PATH_JOIN_FUNCS


def _path_expression(node, parents):
    """Return the whole path expression a string is part of.

    Climbs through ``os.path.join(...)``, ``PathJoinSubstitution([...])`` and pathlib
    ``/`` so that ``join(share, 'config', 'x.yaml')`` is examined as one unit.
    """
    current = node
    while True:
        parent = parents.get(current)
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div):
            current = parent
        elif _is_join(parent) and current is not parent.func:
            current = parent
        elif isinstance(parent, (ast.List, ast.Tuple)) and _is_join(parents.get(parent)):
            current = parent
        else:
            return current


# The launch files share jepa_world_model/launch_support.py. Like them it imports
# launch/launch_ros, so it is parsed, never imported.
LAUNCH_SUPPORT = PACKAGE + '.launch_support'
LAUNCH_SUPPORT_FILE = os.path.join(PACKAGE, 'launch_support.py')
# launch_arguments(*specs) returns (declarations, {name: LaunchConfiguration}); a spec is
# a SHARED_ARGUMENTS key, a (name, default, description) tuple or a call such as
# params_file_argument(name, ...) that returns one.
ARGUMENTS_FUNC = 'launch_arguments'
SHARED_ARGUMENTS = 'SHARED_ARGUMENTS'


def read_launch_support(source):
    """Return what launch files can use from launch_support.py's source, read with ast.

    ``{'names': public module-level names, 'functions': {name: ast.arguments},
    'shared': {argument: default}}``; the defaults come from the SHARED_ARGUMENTS literal.
    """
    tree = ast.parse(source, filename=LAUNCH_SUPPORT_FILE)
    names, functions, shared = set(), {}, {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.FunctionDef):
                functions[node.name] = node.args
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names.add(target.id)
                    if target.id == SHARED_ARGUMENTS:
                        shared = {name: default for name, (default, _)
                                  in ast.literal_eval(node.value).items()}
    public = {name for name in names if not name.startswith('_')}
    return {'names': public, 'shared': shared,
            'functions': {name: args for name, args in functions.items() if name in public}}


@functools.lru_cache(maxsize=1)
def _launch_support():
    with open(_path(LAUNCH_SUPPORT_FILE), encoding='utf-8') as handle:
        return read_launch_support(handle.read())


def _parameter_names(args):
    return [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]


def _support_imports(tree):
    """Map the local names that ``from <launch_support> import ...`` binds to the real ones."""
    return {alias.asname or alias.name: alias.name for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == LAUNCH_SUPPORT
            for alias in node.names}


def _support_calls(tree, function):
    """Calls of launch_support's ``function`` (under whatever name it was imported)."""
    local = {name for name, real in _support_imports(tree).items() if real == function}
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name) and node.func.id in local]


def _argument_specs(tree):
    """``[(spec node, name or None, literal default or None)]`` of the launch_arguments() calls.

    A name spec takes its default from SHARED_ARGUMENTS (None there: not shared).
    """
    shared = _launch_support()['shared']
    specs = []
    for call in _support_calls(tree, ARGUMENTS_FUNC):
        for spec in call.args:
            name = default = None
            if isinstance(spec, ast.Constant):
                name, default = spec.value, shared.get(spec.value)
            elif isinstance(spec, ast.Tuple) and spec.elts:
                name = spec.elts[0].value if isinstance(spec.elts[0], ast.Constant) else None
                if len(spec.elts) > 1 and isinstance(spec.elts[1], ast.Constant):
                    default = spec.elts[1].value
            elif isinstance(spec, ast.Call) and spec.args \
                    and isinstance(spec.args[0], ast.Constant):
                name = spec.args[0].value
            specs.append((spec, name, default))
    return specs


def _configuration_dicts(tree):
    """Names bound to the ``{name: LaunchConfiguration}`` that launch_arguments() returns."""
    calls = _support_calls(tree, ARGUMENTS_FUNC)
    return {node.targets[0].elts[1].id for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and node.value in calls
            and isinstance(node.targets[0], ast.Tuple) and len(node.targets[0].elts) == 2
            and isinstance(node.targets[0].elts[1], ast.Name)}


def _signature_problems(call, name, args):
    """Mismatches between a call and the parameters of launch_support's ``name``."""
    if any(isinstance(a, ast.Starred) for a in call.args) \
            or any(k.arg is None for k in call.keywords):
        return []  # *args / **kwargs: not checkable statically
    positional = [a.arg for a in args.posonlyargs + args.args]
    problems = []
    if len(call.args) > len(positional) and not args.vararg:
        problems.append('%s() takes %d positional arguments, not %d'
                        % (name, len(positional), len(call.args)))
    given = set(positional[:len(call.args)])
    for keyword in call.keywords:
        if keyword.arg not in _parameter_names(args) and not args.kwarg:
            problems.append('%s() has no parameter %r' % (name, keyword.arg))
        given.add(keyword.arg)
    required = positional[:len(positional) - len(args.defaults)] + [
        a.arg for a, default in zip(args.kwonlyargs, args.kw_defaults) if default is None]
    missing = [arg for arg in required if arg not in given]
    if missing:
        problems.append('%s() misses %s' % (name, ', '.join(missing)))
    return problems


def _support_problems(tree, filename):
    """Problems in a launch file's use of launch_support.py (read with ast, not imported).

    Imported names must exist there; calls must match the functions' parameters; node
    helpers (functions with an ``executable`` parameter) need a literal ``executable=``,
    which check_launch_source() then looks up; launch_arguments() names must be in
    SHARED_ARGUMENTS, and ``<configurations>['x']`` must name a declared argument.
    """
    support = _launch_support()
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(alias.name == LAUNCH_SUPPORT
                                                for alias in node.names):
            problems.append('%s:%d: use "from %s import ..." (the checks follow those names)'
                            % (filename, node.lineno, LAUNCH_SUPPORT))
        elif isinstance(node, ast.ImportFrom) and node.module == LAUNCH_SUPPORT:
            problems.extend('%s:%d: %s defines no public %r'
                            % (filename, node.lineno, LAUNCH_SUPPORT_FILE, alias.name)
                            for alias in node.names if alias.name not in support['names'])
    imported = _support_imports(tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and imported.get(node.func.id) in support['functions']):
            continue
        name = imported[node.func.id]
        args = support['functions'][name]
        problems.extend('%s:%d: %s' % (filename, node.lineno, problem)
                        for problem in _signature_problems(node, name, args))
        if 'executable' in _parameter_names(args):
            executable = {k.arg: k.value for k in node.keywords}.get('executable')
            if not (isinstance(executable, ast.Constant) and isinstance(executable.value, str)):
                problems.append("%s:%d: pass %s(executable='<console script>') as a literal, "
                                'so that it can be checked' % (filename, node.lineno, name))
    declared = set()
    for spec, name, _ in _argument_specs(tree):
        if name is None:
            problems.append('%s:%d: %s() spec is not a shared name, a (name, default, '
                            'description) tuple or a call with the name first'
                            % (filename, spec.lineno, ARGUMENTS_FUNC))
        elif isinstance(spec, ast.Constant) and name not in support['shared']:
            problems.append('%s:%d: %r is not in %s.%s'
                            % (filename, spec.lineno, name, LAUNCH_SUPPORT, SHARED_ARGUMENTS))
        declared.add(name)
    dicts = _configuration_dicts(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id in dicts and isinstance(node.slice, ast.Constant) \
                and node.slice.value not in declared:
            problems.append('%s:%d: launch argument %r is not declared'
                            % (filename, node.lineno, node.slice.value))
    return problems


def check_launch_source(source, filename, console_scripts, config_dir):
    """Return a list of problems in one Python launch file (empty list: fine).

    * it must define a module-level ``generate_launch_description``;
    * every ``executable='...'`` of a node of this package (``package=`` this package,
      a name bound to it, or not statically known, as in launch_support's
      ``package_node(executable=...)``) must be a console script;
    * every ``*.yaml``/``*.yml`` string must exist in ``config_dir``, unless it is built
      from another package's share directory;
    * what it uses from jepa_world_model/launch_support.py must exist there
      (_support_problems).
    """
    problems = []
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return ['%s: syntax error: %s' % (filename, exc)]
    if not any(isinstance(node, ast.FunctionDef) and node.name == 'generate_launch_description'
               for node in tree.body):
        problems.append('%s: no module-level generate_launch_description()' % filename)

    strings = _string_bindings(tree)
    parents = {}
    share_vars = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            package = _share_package(node.value, strings)
            for target in node.targets:
                if package and isinstance(target, ast.Name):
                    share_vars[target.id] = package

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        executable = keywords.get('executable')
        if not (isinstance(executable, ast.Constant) and isinstance(executable.value, str)):
            continue
        package = keywords.get('package')
        if isinstance(package, ast.Constant):
            package = package.value
        elif isinstance(package, ast.Name):
            package = strings.get(package.id)
        else:
            package = None
        if package in (None, PACKAGE) and executable.value not in console_scripts:
            problems.append('%s:%d: executable %r is not a console script of %s'
                            % (filename, executable.lineno, executable.value, PACKAGE))

    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and node.value.endswith(('.yaml', '.yml'))):
            continue
        if os.path.isabs(node.value):
            continue
        other_package = None
        for sub in ast.walk(_path_expression(node, parents)):
            package = None
            if isinstance(sub, ast.Call):
                package = _share_package(sub, strings)
            elif isinstance(sub, ast.Name):
                package = share_vars.get(sub.id)
            if package and package != PACKAGE:
                other_package = package
        if other_package:
            continue
        name = os.path.basename(node.value)
        if not os.path.isfile(os.path.join(config_dir, name)):
            problems.append('%s:%d: config file %r not found in config/ros/ (only '
                            'config/ros/*.yaml is a ROS parameter file)'
                            % (filename, node.lineno, node.value))
    return problems + _support_problems(tree, filename)


# Actions that start a process (launch_support's package_node and lifecycle_autostart
# return one), and the launch_support function that must come first.
PROCESS_ACTIONS = ('Node', 'LifecycleNode', 'ComposableNodeContainer', 'ExecuteProcess',
                   'IncludeLaunchDescription', 'package_node', 'lifecycle_autostart')
PACKAGE_CHECK_FUNC = 'start_after_package_check'


def _other_packages(tree, strings):
    """``{package: lineno}`` of other packages a launch file starts nodes from or reads."""
    found = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        package = _share_package(node, strings)
        if package is None and _call_name(node) == 'Node':
            value = {k.arg: k.value for k in node.keywords}.get('package')
            if isinstance(value, ast.Constant):
                package = value.value
        if package and package != PACKAGE:
            found.setdefault(package, node.lineno)
    return found


def _strings_in(node, tree):
    """String constants in ``node``, following names to module-level and local assignments
    and to nested functions defined under them."""
    bindings = {}
    for sub in ast.walk(tree):
        if isinstance(sub, ast.Assign):
            for target in sub.targets:
                if isinstance(target, ast.Name):
                    bindings[target.id] = sub.value
        elif isinstance(sub, ast.FunctionDef):
            bindings[sub.name] = sub
    found, seen, todo = set(), set(), [node]
    while todo:
        for sub in ast.walk(todo.pop()):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                found.add(sub.value)
            elif isinstance(sub, ast.Name) and sub.id in bindings and sub.id not in seen:
                seen.add(sub.id)
                todo.append(bindings[sub.id])
    return found


def start_order_problems(source, filename):
    """Problems with what starts before the package check, in a launch file.

    A launch file that starts nodes of other packages (``Node(package=...)``) or reads
    their share directories must put every process it starts behind launch_support's
    ``start_after_package_check(required, actions, ...)`` with those packages in
    ``required``: a missing package then stops the launch before anything runs, instead
    of failing halfway and leaving the nodes already started behind. ``FindPackageShare``
    of another package is refused: in an argument default it is evaluated when the
    argument is declared, used or not (look it up with get_package_share_directory in the
    actions, after the check).
    """
    tree = ast.parse(source, filename=filename)
    others = _other_packages(tree, _string_bindings(tree))
    problems = ['%s:%d: FindPackageShare(%r): look other packages up after the package check'
                % (filename, node.lineno, _share_package(node, _string_bindings(tree)))
                for node in ast.walk(tree) if isinstance(node, ast.Call)
                and _call_name(node) == 'FindPackageShare'
                and _share_package(node, _string_bindings(tree)) not in (None, PACKAGE)]
    if not others:
        return problems
    checks = _support_calls(tree, PACKAGE_CHECK_FUNC)
    if not checks:
        return problems + ['%s: starts nodes of %s without %s()' % (
            filename, ', '.join(sorted(others)), PACKAGE_CHECK_FUNC)]
    required = set().union(*(_strings_in(call.args[0], tree) for call in checks if call.args))
    problems.extend('%s:%d: %r is not in the packages %s() checks'
                    % (filename, line, package, PACKAGE_CHECK_FUNC)
                    for package, line in sorted(others.items()) if package not in required)
    # Names bound to process actions; the LaunchDescription may hold them only through the
    # package check.
    process_names = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                     for target in node.targets if isinstance(target, ast.Name)
                     and any(isinstance(sub, ast.Call) and _call_name(sub) in PROCESS_ACTIONS
                             for sub in ast.walk(node.value))}
    for description in ast.walk(tree):
        if not (isinstance(description, ast.Call)
                and _call_name(description) == 'LaunchDescription'):
            continue
        todo = list(description.args)
        while todo:
            node = todo.pop()
            if node in checks:
                continue
            if isinstance(node, ast.Call) and _call_name(node) in PROCESS_ACTIONS \
                    or isinstance(node, ast.Name) and node.id in process_names:
                problems.append('%s:%d: %s starts before %s()' % (
                    filename, node.lineno, _call_name(node) if isinstance(node, ast.Call)
                    else node.id, PACKAGE_CHECK_FUNC))
                continue
            todo.extend(ast.iter_child_nodes(node))
    return problems
