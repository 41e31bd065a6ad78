"""The `dvcore` commands, one module per command group; ``dvcore.cli`` puts them together.

- ``run``: ``dvcore run``, ``dvcore validate``
- ``plugins``: ``dvcore plugins``
- ``sample``: ``dvcore sample``
- ``movie``: ``dvcore movie``
- ``evaluate``: ``dvcore eval gen | stats | interp | loss-per-t``
- ``sweep``: ``dvcore sweep``; ``compare``: ``dvcore compare``
- ``common``: the options several commands share (each declared once) and argument helpers

A command parses its arguments and delegates to the module that owns the work. Bad input is
raised as ``dvcore.errors.RecipeError``; ``dvcore.cli`` turns it into one line per problem and
exit code 2 (see ``dvcore.cli.Dvcore``).
"""
