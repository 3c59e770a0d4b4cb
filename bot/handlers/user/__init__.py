"""Handlers of everyone who asks: questions, feedback buttons, /start and /help."""
