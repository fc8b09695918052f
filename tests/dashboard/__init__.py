"""Tests of the live dashboard (server: test_server*.py; page: test_browser.py)."""
