"""The mesh's processes: one module or small package per node kind, on one small runtime.

Nothing imports from here except the command line and tests.
"""
