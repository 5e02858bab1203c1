"""Tests of the collector's live health server, its wall page and `aircarbon status`."""
