"""The command line's commands, one module per family; ``cli.py`` registers them.

Each command parses its arguments, calls one library function and prints what it returns:
``cases`` (open, fire, show, history, forget), ``reports`` (report, rebuild, project),
``batch`` (sweep, migrate, reprocess), ``transfer`` (import, export), ``audit``,
``workflows``, ``demo``; the options they share are in ``options``, and how they print in
``output``.
"""
