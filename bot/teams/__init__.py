from bot.teams import lazy_dialogs

# Before any module of this package imports botbuilder.dialogs: its prompts load on first use (start-up, memory, issue 6).
lazy_dialogs.install()
