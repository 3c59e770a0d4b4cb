"""Fakes shared by the tests: the local Telegram Bot API stand-in and fake encoders. The only home
of fakes."""
