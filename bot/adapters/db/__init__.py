from bot.adapters.db import lazy_asyncio

# Before any store imports `sqlalchemy.ext.asyncio`: the ORM session only if something asks for
# it (start-up time and memory; README, Performance).
lazy_asyncio.install()
