"""No import cycles among jepa_world_model's modules (static: ast, nothing is imported).

The graph has an edge A -> B for every import of B in A's source, late imports inside
functions included: ``cli.py`` and ``risk_refit.py`` once imported each other that way, which
worked only because of the import order and tied the CLI to library code. ``from pkg import
x`` is an edge to ``pkg.x`` when that is a module, else to ``pkg``. The implicit import of a
module's parent packages is not an edge (a package's ``__init__`` importing its own
submodules is normal).
"""

import os

from static_imports import import_statements, package_modules, PACKAGE, REPO_ROOT


def import_graph(directory, root=REPO_ROOT):
    """Return ``{module: {imported modules of the same tree}}`` for the package folder
    ``directory`` (names counted from ``root``)."""
    modules = dict(package_modules(directory, root))
    graph = {}
    for name, path in modules.items():
        targets = set()
        for _, module, names in import_statements(name, path):
            submodules = [module + '.' + n for n in names if module + '.' + n in modules]
            targets.update(submodules)
            if module in modules and len(submodules) < max(len(names), 1):
                targets.add(module)     # attributes of `module`, or `import module`
        graph[name] = targets
    return graph


def find_cycles(graph):
    """Return one cycle ``[a, b, ..., a]`` per strongly connected component that has one,
    sorted; self-imports count."""
    order, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(node):
        # Iterative Tarjan: the recursion depth of a deep package would not matter here,
        # but an explicit stack keeps the test independent of the recursion limit.
        work = [(node, iter(sorted(graph[node])))]
        order[node] = low[node] = len(order)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in order:
                    order[child] = low[child] = len(order)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[current] = min(low[current], order[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[current])
            if low[current] == order[current]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == current:
                        break
                if len(component) > 1 or current in graph[current]:
                    cycles.append(_cycle_through(min(component), component, graph))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return sorted(cycles)


def _cycle_through(start, component, graph):
    """A shortest path start -> ... -> start inside ``component`` (breadth first)."""
    previous = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start] + path[::-1][1:] + [start] if node != start \
                        else [start, start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f'{start} is in a component without a cycle through it')


def _write_package(root, files):
    """Write ``{relative path: source}`` under ``root``."""
    for relative, source in files.items():
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(source)


def test_package_has_no_import_cycles():
    graph = import_graph(os.path.join(REPO_ROOT, PACKAGE))
    cycles = find_cycles(graph)
    assert not cycles, 'import cycles:\n' + '\n'.join(' -> '.join(c) for c in cycles)


def test_graph_sees_the_cli_structure():
    """The graph is not vacuous: known edges of the CLI and its commands are found."""
    graph = import_graph(os.path.join(REPO_ROOT, PACKAGE))
    assert f'{PACKAGE}.commands.train' in graph[f'{PACKAGE}.cli']
    assert f'{PACKAGE}.risk_refit' in graph[f'{PACKAGE}.commands.fit_risk']
    assert f'{PACKAGE}.episode_sources' in graph[f'{PACKAGE}.risk_refit']
    assert f'{PACKAGE}.core.config' in graph[f'{PACKAGE}.episode_sources']
    # A late import inside a function is an edge (commands/demo.py imports ROS lazily).
    assert f'{PACKAGE}.demo.run_demo' in graph[f'{PACKAGE}.commands.demo']
    # Library code does not reach back into the commands.
    library = [m for m in graph if not m.startswith((f'{PACKAGE}.commands', f'{PACKAGE}.cli'))]
    assert not [m for m in library if any(t.startswith(f'{PACKAGE}.commands')
                                          for t in graph[m])]


def test_experiments_and_node_runs_do_not_reach_into_the_demo():
    """The process and model helpers both use live in ``node_runs`` (not in ``demo``), so an
    experiment never imports the demo, and ``node_runs`` neither of them."""
    graph = import_graph(os.path.join(REPO_ROOT, PACKAGE))
    demo, experiments = f'{PACKAGE}.demo', f'{PACKAGE}.experiments'
    assert f'{PACKAGE}.node_runs.processes' in graph[f'{experiments}.closed_loop']
    assert f'{PACKAGE}.node_runs.processes' in graph[f'{demo}.run_demo']
    for module, targets in graph.items():
        if module.startswith((experiments, f'{PACKAGE}.node_runs')):
            assert not [t for t in targets if t == demo or t.startswith(demo + '.')], \
                (module, targets)
        if module.startswith(f'{PACKAGE}.node_runs'):
            assert not [t for t in targets if t.startswith(experiments)], (module, targets)


def test_a_late_import_cycle_is_found(tmp_path):
    """The shape of the old cli <-> risk_refit circle, late import and all, is reported."""
    _write_package(str(tmp_path), {
        'pkg/__init__.py': '',
        'pkg/cli.py': 'from .refit import add_parser\n',
        'pkg/refit.py': 'def run():\n    from .cli import load\n    return load()\n',
        'pkg/core/__init__.py': '',
        'pkg/core/a.py': 'from . import b\n',
        'pkg/core/b.py': 'import pkg.core.c\n',
        'pkg/core/c.py': 'import importlib\nimportlib.import_module("pkg.core.a")\n',
        'pkg/alone.py': 'from pkg.core import a\nfrom pkg import cli\n',
        'pkg/selfish.py': 'from pkg import selfish\n',
    })
    cycles = find_cycles(import_graph(str(tmp_path / 'pkg'), str(tmp_path)))
    assert cycles == [['pkg.cli', 'pkg.refit', 'pkg.cli'],
                      ['pkg.core.a', 'pkg.core.b', 'pkg.core.c', 'pkg.core.a'],
                      ['pkg.selfish', 'pkg.selfish']]


def test_attribute_imports_point_at_the_package_not_a_cycle(tmp_path):
    """``from . import NAME`` of an attribute is an edge to the package's ``__init__``, and an
    ``__init__`` that imports its submodules is not a cycle with a submodule importing a
    sibling."""
    _write_package(str(tmp_path), {
        'pkg/__init__.py': 'from .a import A\nVERSION = 1\n',
        'pkg/a.py': 'from .b import B\nA = B\n',
        'pkg/b.py': 'B = 2\n',
        'pkg/c.py': 'from . import VERSION\n',
    })
    graph = import_graph(str(tmp_path / 'pkg'), str(tmp_path))
    assert graph == {'pkg': {'pkg.a'}, 'pkg.a': {'pkg.b'}, 'pkg.b': set(), 'pkg.c': {'pkg'}}
    assert find_cycles(graph) == []
    _write_package(str(tmp_path), {'pkg/b.py': 'from . import VERSION\nB = VERSION\n'})
    assert find_cycles(import_graph(str(tmp_path / 'pkg'), str(tmp_path))) == [
        ['pkg', 'pkg.a', 'pkg.b', 'pkg']]
