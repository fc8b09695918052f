"""Tests of the cex-gateway node."""
