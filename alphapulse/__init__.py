"""The floor of the house: what every layer may import, and which imports nothing of the project.

Only :mod:`alphapulse.errors` (the root of the one error tree) lives here, so that ``shm``,
the protocol, the transport, the chain client and the nodes all derive their errors from one
root without any layer pointing up. See ``docs/architecture.md``.
"""
