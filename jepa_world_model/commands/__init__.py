"""The ``jepa-world-model`` sub-commands, one module each (``cli.py`` only dispatches).

Each module has ``add_parser(sub)``, which declares the sub-command's arguments on the
argparse sub-parsers ``sub`` and sets ``func``, and ``run(args) -> exit status``. Library
code the commands share lives outside this package (``episode_sources``, ``risk_refit``,
``core``, ``bags``, ``experiments``), so nothing but ``cli.py`` imports ``commands``.
"""
