"""`python -m bot` and the `faqbot` command; Ctrl+C at any moment ends it quietly (exit 130)."""

import sys


def main() -> int:
    try:
        # Imported here, not above: Ctrl+C during the imports (a second or two of aiogram,
        # pydantic and numpy) is a person stopping the command, not a traceback.
        from bot.cli import main as faqbot

        return faqbot()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
