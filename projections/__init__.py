"""Read models built from the events, and the queries and reports over them.

``tables`` and ``case_summary``: the rows and how events fold into them; ``read_model``: the
catch-up with tracking; ``rebuild``: folding everything again, by one process or several;
``filters`` and ``selection``: which cases a report counts or a batch job takes;
``batch_jobs``: the engine's jobs over those selections; ``report`` and ``rendering``: the
figures and their text and CSV forms; ``unit_ledger``, ``three_rates`` and ``progress``: each
unit's account entry by entry, the three rates (三率) and the ranking, and the progress by
channel and kind the report adds; ``case_ids``: shortened ids; ``audit``: the read-model
check of ``casework audit``.
"""

from .read_model import ReadModel

__all__ = ["ReadModel"]
