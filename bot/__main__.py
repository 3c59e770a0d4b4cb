"""`python -m bot` and the `faqbot` command; Ctrl+C at any moment ends it quietly (exit 130)."""

import signal
import sys
from types import FrameType

_interrupted = False


def _interrupt(_signal: int, _frame: FrameType | None) -> None:
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl+C during the imports (a second or two of aiogram, pydantic and numpy) is a person
    # stopping the command, not a traceback. Inside a compiled extension's own start-up it
    # surfaces as that extension's error (pydantic_core panics), so the interrupt is noted.
    signal.signal(signal.SIGINT, _interrupt)
    try:
        from bot.cli import main as faqbot
    except BaseException:
        if _interrupted:
            return 130
        raise
    finally:
        # From here Python's own handler again, which asyncio.run turns into a clean stop.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return faqbot()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
