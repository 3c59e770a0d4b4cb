"""Unit tests: one service at a time, with fakes from tests/fakes for what it does not test."""
