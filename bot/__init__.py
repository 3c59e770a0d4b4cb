"""faqbot's application layer: Telegram, the command line and start-up wiring."""
