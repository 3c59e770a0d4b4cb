"""faqbot's domain: articles, semantic search, feedback and training; knows nothing of Telegram."""
