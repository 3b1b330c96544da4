"""The parameter tables of docs/world_model_node.md, docs/planner.md and docs/agents.md, made
from the specs.

Each node's parameters are declared once (``world_model.parameters.PARAMS``,
``planner.parameters.PARAMS``); the docs table between the two marker comments of each page
is generated from them, one row per parameter: name, default, range or choices, when a
change applies, description. Regenerate after changing a spec::

    python -m jepa_world_model.ros.parameter_docs           # rewrite the tables
    python -m jepa_world_model.ros.parameter_docs --check   # exit 1 if a table is stale

test/test_docs_reference.py fails when a table differs from the generated one.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ..core.settings_spec import ParamSpec
from .agents import parameters as agent_parameters
from .planner import parameters as planner_parameters
from .world_model import parameters as world_model_parameters

__all__ = ['BEGIN', 'END', 'DOCS', 'render_table', 'with_table', 'stale_docs', 'main']

BEGIN = ('<!-- parameter table: generated from the specs by '
         '`python -m jepa_world_model.ros.parameter_docs`; edit the specs, not this table -->')
END = '<!-- end of the generated parameter table -->'
#: Docs page (relative to the repository root) -> the table of parameters it documents.
DOCS: Dict[str, Mapping[str, ParamSpec]] = {
    'docs/world_model_node.md': world_model_parameters.PARAMS,
    'docs/planner.md': planner_parameters.PARAMS,
    'docs/agents.md': agent_parameters.PARAMS,
}
_HEADER = ('| name | default | range / choices | applies | description |\n'
           '| --- | --- | --- | --- | --- |')


def _number(value: Any, keep_float: bool) -> str:
    """A number as the docs write it: 0.5, 10.0 (a double: YAML needs the point), 1e5."""
    if isinstance(value, int):
        return str(value)
    if value == math.pi:
        return 'pi'
    if value != 0 and not 1e-3 <= abs(value) < 1e4:
        mantissa, exponent = f'{value:e}'.split('e')
        return f'{mantissa.rstrip("0").rstrip(".")}e{int(exponent)}'
    if not keep_float and value.is_integer():
        return str(int(value))
    return repr(value)


def _default(spec: ParamSpec) -> str:
    value = spec.default
    if value is None:
        return 'unset'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(v if isinstance(v, str) else _number(v, True)
                               for v in value) + ']'
    return _number(value, True)


def _limits(spec: ParamSpec) -> str:
    if spec.low is not None:
        return f'[{_number(spec.low, False)}, {_number(spec.high, False)}]'
    if spec.choices:
        return ', '.join(spec.choices)
    return spec.rule.text if spec.rule is not None else ''


def render_table(params: Mapping[str, ParamSpec]) -> str:
    """The markdown table of ``params``, one row per parameter in declaration order."""
    rows = [_HEADER]
    for name, spec in params.items():
        cells = [f'`{name}`', _default(spec), _limits(spec), spec.applies, spec.description]
        rows.append('| ' + ' | '.join(c.replace('|', '\\|') for c in cells) + ' |')
    return '\n'.join(rows)


def with_table(text: str, table: str) -> str:
    """``text`` with the part between :data:`BEGIN` and :data:`END` replaced by ``table``.

    Raises:
        ValueError: The markers are missing, repeated or out of order.
    """
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError('expected one table marker pair (BEGIN ... END)')
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f'{head}{BEGIN}\n{table}\n{END}{tail}'


def stale_docs(root: Path, write: bool) -> List[str]:
    """The docs pages whose table differs from the generated one (rewritten when ``write``).

    Raises:
        ValueError: A page lacks the markers (named in the message).
    """
    stale = []
    for page, params in DOCS.items():
        path = root / page
        text = path.read_text(encoding='utf-8')
        try:
            new = with_table(text, render_table(params))
        except ValueError as exc:
            raise ValueError(f'{page}: {exc}') from None
        if new != text:
            stale.append(page)
            if write:
                path.write_text(new, encoding='utf-8')
    return stale


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Rewrite (or with ``--check`` only compare) the docs tables; 1 if a table was stale on
    ``--check``, 2 if a page lacks its markers."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true', help='compare only; exit 1 if stale')
    parser.add_argument('--root', type=Path, default=Path(__file__).resolve().parents[2],
                        help='repository root (default: the one this module is in)')
    args = parser.parse_args(argv)
    try:
        stale = stale_docs(args.root, write=not args.check)
    except (ValueError, OSError) as exc:
        print(f'parameter_docs: {exc}', file=sys.stderr)
        return 2
    verb = 'stale' if args.check else 'rewritten'
    for page in stale:
        print(f'{page}: parameter table {verb}')
    return 1 if stale and args.check else 0


if __name__ == '__main__':
    sys.exit(main())
