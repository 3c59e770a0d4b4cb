"""Counting the model constructions of a test run, child processes included (sitecustomize)."""
