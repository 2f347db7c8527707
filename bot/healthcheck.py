"""`python -m bot.healthcheck`: the container's HEALTHCHECK (Dockerfile). Asks this instance's
`/readyz` on the loopback interface (the port from PORT, as the bot reads it) and exits 0 when it
answers 200, else 1, printing the reasons /readyz gave. Standard library only: it runs every
30 s and must start fast."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_PORT = 3978  # bot/settings.py
TIMEOUT_SECONDS = 4.0  # /readyz answers within about a second, even when the database hangs


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT') or DEFAULT_PORT}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 - a fixed http URL
            print(answer.read(2000).decode("utf-8", "replace"))
            return 0 if answer.status == 200 else 1
    except urllib.error.HTTPError as error:  # 503: not ready, with the reason of each check
        print(error.read(2000).decode("utf-8", "replace"))
        return 1
    except (OSError, ValueError) as error:
        print(f"not answering on {url}: {type(error).__name__}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
