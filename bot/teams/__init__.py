from bot.teams import lazy_dialogs

# Before any module of this package imports botbuilder.dialogs: its prompts load on first use
# (start-up time and memory: README, Performance).
lazy_dialogs.install()
