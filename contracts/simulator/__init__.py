"""The devnet market simulator: noise traders, injected dislocations and their exact ground truth.

See :mod:`contracts.simulator.runner` for the loop and :mod:`contracts.simulator.truth` for the
ground-truth file format.
"""
