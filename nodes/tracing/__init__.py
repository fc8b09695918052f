"""Tracing: one trade's path through the mesh, from the collector's block to the executor's result.

:mod:`nodes.tracing.spans` forms and carries the ``TraceContext`` spans frames carry
(docs/tracing.md); :mod:`nodes.tracing.timeline` puts one opportunity's hops in order;
:mod:`nodes.tracing.cli` is ``alphapulse trace``.
"""
