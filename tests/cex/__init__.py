"""Tests of the cex layer."""
