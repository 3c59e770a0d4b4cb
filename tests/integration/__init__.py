"""Integration tests: real SQLite files through the real migrations, and the real models."""
