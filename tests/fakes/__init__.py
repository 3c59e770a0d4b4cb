"""The home of the fakes and of the helpers the tests share; the only part of tests/ that a test
module or a conftest.py imports (tests/unit/test_test_layout.py checks it).

Fakes: the local Telegram Bot API stand-in (telegram), fake encoders and a fake model (encoders),
tiny aiogram bots for the stand-in and the polling loop (probe_bots), a clock whose time passes
only when the test moves it (clock). Helpers: the e2e harness (harness), faqbot wired as
`faqbot run` wires it on a model of fixed vectors (fixed_vector_bot), who talks to the bot
(people), reading the bot's messages (replies), where things are (paths), what the sample base
holds (samples), a test's settings (settings) and database (databases), model versions without
training (model_versions), waiting with a deadline (waiting), and faqbot as an operator runs it
(operator_shell). Fixtures stay in conftest.py.
"""
