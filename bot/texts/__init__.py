"""Every sentence the bot says, in Russian: `user`, `admin`, and `plural` for counted nouns."""
