"""`python -m bot` runs the faqbot command."""

import sys

from bot.cli import main

sys.exit(main())
