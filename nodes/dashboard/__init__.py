"""The live web dashboard (``alphapulse dashboard``): an ad hoc reader of the mesh and its
rings, served to browsers over a websocket by aiohttp. Not a node: no contract, no heartbeat.

* :mod:`reader`: the mesh side, two threads (ZeroMQ, rings) feeding an inbox that never blocks;
* :mod:`state`: bounded history, the snapshot and the deltas;
* :mod:`fanout`: one bounded queue per browser, slow ones dropped;
* :mod:`server`: routes, the security checks, stop/resume, ``/metrics``;
* :mod:`messages`, :mod:`prices`: frames to the page's JSON;
* :mod:`token`, :mod:`errors`, :mod:`metrics`, :mod:`cli`.

docs/dashboard.md describes the page, the interface and the security model.
"""
