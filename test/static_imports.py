"""What a module imports, read from its source without importing it (ast), for the
import-direction and import-cycle tests.

Not a test module. Every import statement counts, wherever it is (module level, inside a
function, under ``if TYPE_CHECKING``), and so does ``importlib.import_module('literal')``:
a late import still ties the two modules together.
"""

import ast
import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = 'jepa_world_model'


def package_modules(directory, root=REPO_ROOT):
    """Return ``[(dotted_name, path)]`` for every Python file under ``directory``, named from
    ``root`` (the folder on ``sys.path``), sorted; ``pkg/__init__.py`` is named ``pkg``."""
    modules = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
        for filename in sorted(filenames):
            if not filename.endswith('.py'):
                continue
            path = os.path.join(dirpath, filename)
            rel = os.path.relpath(path, root)[:-len('.py')].split(os.sep)
            if rel[-1] == '__init__':
                rel = rel[:-1]
            modules.append(('.'.join(rel), path))
    return modules


def resolve_relative(module_name, is_package, level, target):
    """Turn ``from <level dots><target> import ...`` inside ``module_name`` absolute."""
    parts = module_name.split('.')
    base = parts if is_package else parts[:-1]
    if level > 1:
        base = base[:-(level - 1)]
    return '.'.join(base + ([target] if target else []))


def import_statements(module_name, path):
    """Return ``[(lineno, module, names)]`` for every import in ``path`` (static).

    ``import a.b`` gives ``('a.b', [])``; ``from a import x, y`` (relative ones made
    absolute) gives ``('a', ['x', 'y'])``, where each name may be a submodule or an
    attribute; ``importlib.import_module('a.b')`` gives ``('a.b', [])``.
    """
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), filename=path)
    is_package = os.path.basename(path) == '__init__.py'
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = resolve_relative(module_name, is_package, node.level, node.module)
            else:
                base = node.module
            found.append((node.lineno, base,
                          [alias.name for alias in node.names if alias.name != '*']))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = getattr(func, 'attr', None) or getattr(func, 'id', None)
            first = node.args[0]
            if name in ('import_module', '__import__') and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str):
                found.append((node.lineno, first.value, []))
    return found


def imported_names(module_name, path):
    """Return ``[(lineno, dotted_name)]`` of every module ``path`` may import: each
    statement's module and, for ``from pkg import sub``, also ``pkg.sub``."""
    found = []
    for lineno, module, names in import_statements(module_name, path):
        found.append((lineno, module))
        found.extend((lineno, module + '.' + name) for name in names)
    return found
