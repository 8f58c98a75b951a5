"""Batch jobs over many cases, split by case id across processes and machines.

``runner`` runs a step over selected cases (and any partitioned work), ``leases`` shares the
partitions through the database; the steps: ``sweep`` (deadlines), ``migration`` (to a newer
workflow version), ``reprocess`` (one trigger on a selection).
"""
