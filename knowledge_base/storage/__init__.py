"""Storage: the engine and sessions, the tables, and one repository per aggregate; all SQL lives
here."""
