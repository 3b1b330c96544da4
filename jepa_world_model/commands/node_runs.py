"""Exit status of a command that starts ROS 2 nodes as child processes (``demo``,
``plan-eval``): its own failures are one line on stderr, Ctrl-C a clean stop."""

from __future__ import annotations

import sys
from typing import Callable, Tuple, Type

__all__ = ['exit_status']


def exit_status(command: str, body: Callable[[], object],
                errors: Tuple[Type[BaseException], ...]) -> int:
    """Run ``body()``: 0 when it returns, 2 with one line on stderr when it raises one of
    ``errors``, 130 when interrupted (``body`` stops its nodes on the way out)."""
    try:
        body()
    except errors as exc:
        sys.stderr.write(f'jepa-world-model {command}: error: {exc}\n')
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f'\n[{command}] interrupted: all nodes stopped\n')
        return 130
    return 0
