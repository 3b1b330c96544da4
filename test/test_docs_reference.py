"""The node docs list every parameter and every counter the code has (docs vs code).

``docs/world_model_node.md`` and ``docs/planner.md`` each hold a parameter table (one row
per parameter: name, default, range, applies, description), generated from the nodes' specs
(``PARAMS``) by ``python -m jepa_world_model.ros.parameter_docs``, and the counters the node
reports as ``count.<reason>`` in diagnostics. Counter names are read from the nodes'
source with ``ast``: the first argument of every ``reject(...)``, ``InputError(...)``,
``counters.add(...)``, ``SyncError(...)`` and ``Rejection(...)`` call, the reason of every
``PlanStop``/``Stop``, strings assigned to ``reason`` and those ``classify_*`` functions
return. A name built at run time (an f-string such as ``f'{what}_out_of_range'``) must be
documented in some form that fits it: ``joint_state_out_of_range`` or ``*_out_of_range``.
"""

import ast
import dataclasses
import glob
import os
import re

import pytest

try:
    from jepa_world_model.core.planning.command_limits import LIMIT_KINDS
    from jepa_world_model.ros.world_model import parameters as world_model_parameters
    from jepa_world_model.ros import parameter_docs
    from jepa_world_model.ros.planner import parameters as planner_parameters
    from jepa_world_model.ros.planner.outputs import STOPS
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

pytestmark = pytest.mark.ros

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, 'jepa_world_model')
#: Calls whose first argument is a counter name.
_COUNTING_CALLS = {'reject', '_reject', 'InputError', 'add', 'SyncError', 'Rejection'}
#: Stop exceptions: ``(status, reason, message)``; the reason is counted.
_STOP_CALLS = {'PlanStop', 'Stop'}
#: Where each node's counter names are made (globs under the package): its own modules and
#: the input layer both nodes share (ros/common, core/runtime/state_sync.py).
SHARED_INPUTS = ['ros/common/*.py', 'core/runtime/state_sync.py']
SOURCES = {
    'world_model_node': (['ros/world_model/node.py', 'ros/world_model/frame_pipeline.py']
                         + SHARED_INPUTS),
    'planner': ['ros/planner/*.py', 'core/planning/*.py'] + SHARED_INPUTS,
}
DOCS = {'world_model_node': 'docs/world_model_node.md', 'planner': 'docs/planner.md'}
_WORD = re.compile(r'[A-Za-z0-9_*<>]+')
_NAME = re.compile(r'^[a-z][a-z0-9]*(_[a-z0-9]+)*$')


def _call_name(node):
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', '')


def _names_in(expr):
    """Counter names an expression can evaluate to: literals, or a regex for a name built
    at run time (f-string, 'prefix' + x)."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value] if _NAME.match(expr.value) else []
    if isinstance(expr, ast.IfExp):
        return _names_in(expr.body) + _names_in(expr.orelse)
    if isinstance(expr, ast.JoinedStr):
        parts = [re.escape(v.value) if isinstance(v, ast.Constant) else '[a-z0-9_*<>]+'
                 for v in expr.values]
        return [re.compile(''.join(parts))]
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        parts = [re.escape(side.value) if isinstance(side, ast.Constant)
                 and isinstance(side.value, str) else '[a-z0-9_*<>]+'
                 for side in (expr.left, expr.right)]
        return [re.compile(''.join(parts))]
    return []


def counter_names(patterns):
    """``{name or compiled pattern: 'file:line'}`` of the counters made in ``patterns``."""
    found = {}
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.join(PACKAGE, pattern))):
            tree = ast.parse(open(path, encoding='utf-8').read())
            where = os.path.relpath(path, REPO)
            for node in ast.walk(tree):
                exprs = []
                if isinstance(node, ast.Call) and node.args:
                    name = _call_name(node)
                    if name in _COUNTING_CALLS:
                        exprs = [node.args[0]]
                    elif name in _STOP_CALLS and len(node.args) > 1:
                        exprs = [node.args[1]]
                elif isinstance(node, ast.Assign) and any(
                        getattr(t, 'id', '') == 'reason' for t in node.targets):
                    exprs = [node.value]
                elif isinstance(node, ast.FunctionDef) and node.name.startswith('classify'):
                    exprs = [n.value for n in ast.walk(node) if isinstance(n, ast.Return)]
                for expr in exprs:
                    for found_name in _names_in(expr):
                        found.setdefault(found_name, f'{where}:{node.lineno}')
    return found


def doc_words(doc):
    """Every word written in backticks in ``doc`` (``count.image_stale`` gives both parts)."""
    text = open(os.path.join(REPO, doc), encoding='utf-8').read()
    words = set()
    for span in re.findall(r'`([^`\n]+)`', text):
        words.update(_WORD.findall(span.replace('.', ' ')))
    return words


def parameter_rows(doc):
    """``{name: applies}`` of the parameter table of ``doc``."""
    text = open(os.path.join(REPO, doc), encoding='utf-8').read()
    rows = re.findall(r'^\| `([a-z_0-9]+)` \|[^|\n]*\|[^|\n]*\| ([a-z]+) \|', text, re.M)
    return dict(rows)


@pytest.mark.parametrize('node', sorted(DOCS))
def test_the_parameter_table_is_the_generated_one(node):
    """The docs table is made from the specs (``python -m jepa_world_model.ros.parameter_docs``
    rewrites it): every parameter, its default, range, applies and description."""
    params = (world_model_parameters if node == 'world_model_node' else planner_parameters).PARAMS
    assert parameter_docs.DOCS[DOCS[node]] is params
    text = open(os.path.join(REPO, DOCS[node]), encoding='utf-8').read()
    expected = parameter_docs.with_table(text, parameter_docs.render_table(params))
    assert text == expected, (f'{DOCS[node]}: parameter table differs from the specs; run '
                              'python -m jepa_world_model.ros.parameter_docs')
    rows = parameter_rows(DOCS[node])   # and it is a table the row pattern reads
    assert rows == {name: spec.applies for name, spec in params.items()}


def test_the_generated_table_follows_the_specs(tmp_path):
    """A changed spec changes the table; a page without markers is refused; --check exits 1
    on a stale page and the rewrite makes it current."""
    params = planner_parameters.PARAMS
    changed = dict(params, horizon=dataclasses.replace(params['horizon'], default=9))
    assert parameter_docs.render_table(changed) != parameter_docs.render_table(params)
    assert '| `horizon` | 9 | [1, 100] | runtime |' in parameter_docs.render_table(changed)
    with pytest.raises(ValueError, match='marker'):
        parameter_docs.with_table('no markers here', 'table')
    for page in parameter_docs.DOCS:
        (tmp_path / page).parent.mkdir(exist_ok=True)
        (tmp_path / page).write_text(f'intro\n{parameter_docs.BEGIN}\nold\n'
                                     f'{parameter_docs.END}\nrest\n', encoding='utf-8')
    assert parameter_docs.main(['--check', '--root', str(tmp_path)]) == 1
    assert parameter_docs.main(['--root', str(tmp_path)]) == 0
    assert parameter_docs.main(['--check', '--root', str(tmp_path)]) == 0
    text = (tmp_path / 'docs/planner.md').read_text(encoding='utf-8')
    assert text.startswith('intro\n') and text.endswith('rest\n') and '`num_elites`' in text


@pytest.mark.parametrize('node', sorted(DOCS))
def test_every_counter_is_documented(node):
    words = doc_words(DOCS[node])
    names = counter_names(SOURCES[node])
    assert len(names) > 20, names     # the scan found the nodes' counters at all
    missing = {}
    for name, where in names.items():
        if isinstance(name, str):
            ok = name in words
        else:
            ok = any(name.fullmatch(w) for w in words)
        if not ok:
            missing[getattr(name, 'pattern', name)] = where
    assert missing == {}, f'{DOCS[node]} does not mention these counters (name: made at)'


def test_planner_stops_and_limit_counters_are_documented():
    """``stop_<status>`` for every safety stop, ``limit_<kind>`` for every limit kind."""
    words = doc_words(DOCS['planner'])
    expected = {f'stop_{s}' for s in STOPS} | {f'limit_{k}' for k in LIMIT_KINDS}
    assert sorted(expected - words) == []


def test_the_counter_scan_finds_names_of_every_form(tmp_path, monkeypatch):
    """The scan itself: literals, conditional names, f-strings, prefixes and stop reasons."""
    source = tmp_path / 'ros' / 'sample.py'
    source.parent.mkdir()
    source.write_text(
        "def f(self, what, c, exc):\n"
        "    self.reject('alpha_beta', 'x')\n"
        "    reason = 'gamma_one' if c else 'gamma_two'\n"
        "    self._reject(f'{what}_out_of_range', 'x')\n"
        "    raise InputError('goal_' + exc.reason, 'x')\n"
        "    raise PlanStop('overrun', 'plan_overrun', 'x')\n"
        "    self.counters.add(3.0)\n")
    monkeypatch.setattr(__import__(__name__), 'PACKAGE', str(tmp_path))
    names = counter_names(['ros/sample.py'])
    literal = {n for n in names if isinstance(n, str)}
    assert literal == {'alpha_beta', 'gamma_one', 'gamma_two', 'plan_overrun'}
    patterns = [n for n in names if not isinstance(n, str)]
    assert any(p.fullmatch('odom_out_of_range') for p in patterns)
    assert any(p.fullmatch('goal_pose_no_frame') for p in patterns)
    assert not any(p.fullmatch('out_of_range') for p in patterns)
