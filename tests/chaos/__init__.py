"""Chaos tests: the whole deployment under supervisord with its processes killed."""
