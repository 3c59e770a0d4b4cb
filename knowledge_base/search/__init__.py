"""Search: the serving snapshot and its rebuild, the answer use case and its log, the vector and
lexical indexes and their fusion."""
