"""Tests of faqbot: unit, integration and end-to-end, plus the local Telegram stand-in."""
