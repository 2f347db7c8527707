"""Driving Microsoft 365 Agents Playground's page the way a person does (Playground 0.2.28, pinned).

What Playground's page is made of (learnt from 0.2.28's DOM; the selectors are all here):

- conversation list: `role=treeitem` buttons named "Personal Chat", "<group chat name>" and
  "<team name> - <channel name>" (e.g. "Safeguarding Partnership - Rapid Review Panel");
- personal chat: one compose box, a Lexical editor `[role=textbox][contenteditable=true]`
  ("Type a message..."), and the button named "Send Message"; the bot's messages are
  `.fai-OutputCard` (Fluent Copilot output cards), oldest first;
- channel: a "Start a new post" card (`[role=group]` holding the button "Post") on top, then one
  `[role=group]` card per thread, **newest thread first**; each thread has its replies, oldest
  first, and its own reply box ("Type a message..." + "Send Message"). Playground (like Teams)
  only sends a channel message to the bot when it @mentions it: typing "@Rap" opens a typeahead
  (`role=listbox` "Typeahead menu") whose `role=menuitem` "Rapid Review" inserts the mention
  (the bot receives `<at>Rapid Review</at> …`);
- Adaptive Cards: rendered by adaptivecards.js inside Fluent: `.ac-adaptiveCard`, text in
  `.ac-textBlock`, FactSets as `.ac-fact-title` / `.ac-fact-value`, actions as Fluent buttons
  whose accessible name and `title` are the action's title (`role=button name=<title>`);
- the Log Panel (right): one row per activity, e.g. "User Application -> Microsoft 365 Agents
  Playground message 201" for each activity the bot sends. `bot_activity_count` counts them,
  so a step can wait for the bot's answer without guessing which element it will be.
- card inputs (Fluent): a compact ChoiceSet, Input.Date and Input.Time are `<input role=combobox>`
  (a date is typed as `2026-12-03` and parsed on Tab); an expanded ChoiceSet is a `radiogroup`
  labelled by the input's label; Input.Toggle is a checkbox named by its title (`fill`, `choose`,
  `tick`). A card action (Action.Execute) answered with a card replaces the card in place and
  sends no activity: the Log Panel shows "Microsoft 365 Agents Playground -> User Application
  invoke 200" (`press(..., replies=0)` waits for that).

Known limits of Playground (0.2.28): no user-specific card views (`refresh.userIds` is ignored:
everyone sees the same card, so a panel member presses **Vote** to get their controls); one
current user per Playground process (`currentUser` in the yml: act as someone else by restarting
Playground with another config, see the `playground_config` fixture; "Mock an Activity → Custom
activity" can send one activity with another `from`); the page forgets its messages when it
reloads (and then re-sends installationUpdate/conversationUpdate, so the welcome card comes
again); "Full width control is not supported yet" is shown under cards with `msteams.width: Full`.
"""

from __future__ import annotations

import re
import time

try:
    from playwright.sync_api import Locator, Page, expect
except ImportError:  # the e2e_tools fixture skips the tests (fails them with CI=true) and says what is missing
    expect = None  # type: ignore[assignment]


BOT_NAME = "Rapid Review"
TIMEOUT_MS = 15_000

COMPOSER = "[role=textbox][contenteditable=true]"
CARD = ".ac-adaptiveCard"
BOT_MESSAGE = ".fai-OutputCard"

_BOT_ACTIVITIES_JS = """() => [...document.querySelectorAll('span')]
  .filter(s => s.children.length === 0 && s.textContent.startsWith('User Application -> Microsoft 365 Agents Playground'))
  .map(s => (s.parentElement ? s.parentElement.textContent : ''))
  .filter(row => !/Playground\\s*get/i.test(row)).length"""

_INVOKES_JS = """() => [...document.querySelectorAll('span')]
  .filter(s => s.children.length === 0 && s.textContent.startsWith('Microsoft 365 Agents Playground'))
  .map(s => (s.parentElement ? s.parentElement.textContent : ''))
  .filter(row => /User Application\\s*invoke/i.test(row)).length"""


def open_playground(page: Page, url: str) -> None:
    """Load Playground and wait until it is connected to the bot and shows the conversation list."""
    page.goto(url)
    expect(page.get_by_role("treeitem", name="Personal Chat")).to_be_visible()
    expect(page.get_by_text("Connected.")).to_be_visible()


def open_personal_chat(page: Page) -> None:
    page.get_by_role("treeitem", name="Personal Chat").click()
    expect(page.get_by_role("button", name="Send Message")).to_have_count(1)


def open_channel(page: Page, name: str, team: str | None = None) -> None:
    """Open a team channel by its name ("General", "Rapid Review Panel")."""
    label = f"{team} - {name}" if team else re.compile(rf" - {re.escape(name)}$")
    page.get_by_role("treeitem", name=label).click()
    expect(new_post_box(page)).to_be_visible()


def bot_activity_count(page: Page) -> int:
    """How many activities the bot has sent to Playground so far (from the Log Panel)."""
    return int(page.evaluate(_BOT_ACTIVITIES_JS))


def invoke_count(page: Page) -> int:
    """How many card actions (invokes: Action.Execute) Playground has sent the bot so far (from the Log Panel)."""
    return int(page.evaluate(_INVOKES_JS))


def wait_for_bot(page: Page, before: int, *, count: int = 1, timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait until the bot has sent `count` more activities than `before`, and give the page a moment to draw them."""
    deadline = time.monotonic() + timeout_ms / 1000
    while bot_activity_count(page) < before + count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the bot sent no answer within {timeout_ms / 1000:.0f} s "
                                 f"({bot_activity_count(page) - before} of {count} activities)")
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)


def _type(page: Page, box: Locator, text: str, mentions: tuple[str, ...]) -> None:
    """Type into a Lexical compose box; `@Name` of one of `mentions` becomes a real mention."""
    box.click()
    pattern = re.compile("|".join(f"@{re.escape(m)}" for m in mentions)) if mentions else None
    rest = text
    while pattern and (match := pattern.search(rest)):
        if match.start():
            page.keyboard.type(rest[: match.start()])
        name = match.group(0)[1:]
        page.keyboard.type("@" + name.split()[0])
        page.get_by_role("menuitem", name=name).click()
        rest = rest[match.end():].lstrip(" ")
        page.keyboard.type(" ")
    if rest:
        page.keyboard.type(rest)


def say(page: Page, text: str, *, replies: int = 1) -> Locator:
    """Send `text` in the open personal (or group) chat and wait for the bot's answer; returns its last message."""
    before = bot_activity_count(page)
    _type(page, page.locator(COMPOSER).last, text, ())
    page.get_by_role("button", name="Send Message").click()
    if replies:
        wait_for_bot(page, before, count=replies)
    return page.locator(BOT_MESSAGE).last


def new_post_box(page: Page) -> Locator:
    return page.locator("[role=group]").filter(has=page.get_by_role("button", name="Post", exact=True))


def threads(page: Page) -> Locator:
    """The open channel's threads, newest first (the "Start a new post" box excluded)."""
    return page.locator("[role=group]").filter(has=page.get_by_role("button", name="Send Message"))


def thread_with(page: Page, text: str | re.Pattern[str]) -> Locator:
    """The newest thread of the open channel that shows `text`."""
    return threads(page).filter(has_text=text).first


def post(page: Page, text: str, *, replies: int = 1, mention: str = BOT_NAME) -> Locator:
    """Start a new post in the open channel (`@Rapid Review …` mentions the bot); returns its thread."""
    before = bot_activity_count(page)
    box = new_post_box(page)
    _type(page, box.locator(COMPOSER), text, (mention,))
    box.get_by_role("button", name="Post", exact=True).click()
    if replies:
        wait_for_bot(page, before, count=replies)
    return threads(page).first


def reply(page: Page, thread: Locator, text: str, *, replies: int = 1, mention: str = BOT_NAME) -> Locator:
    """Reply in a channel thread (mention the bot with `@Rapid Review …`); returns the thread."""
    before = bot_activity_count(page)
    _type(page, thread.locator(COMPOSER), text, (mention,))
    thread.get_by_role("button", name="Send Message").click()
    if replies:
        wait_for_bot(page, before, count=replies)
    return thread


def cards(scope: Page | Locator) -> Locator:
    """Every Adaptive Card shown in `scope` (the page, a thread, a message), in page order."""
    return scope.locator(CARD)


def last_card(scope: Page | Locator) -> Locator:
    """The bottom-most card: in personal chat the newest; in a channel pass the thread as scope."""
    return cards(scope).last


def card_with(scope: Page | Locator, text: str | re.Pattern[str]) -> Locator:
    """The last card in `scope` that shows `text` (a reference, a heading …)."""
    return cards(scope).filter(has_text=text).last


def card_text(card: Locator) -> str:
    """What the card shows, as the user reads it: one line per line of text, blank lines dropped."""
    return "\n".join(line.strip() for line in card.inner_text().splitlines() if line.strip())


def last_card_text(scope: Page | Locator) -> str:
    return card_text(last_card(scope))


def card_buttons(card: Locator) -> list[str]:
    """The titles of the card's action buttons, in order."""
    return [b.get_attribute("title") or b.inner_text() for b in card.locator("button[title]").all()]


def facts(card: Locator) -> dict[str, str]:
    """The card's FactSets as {title: value}."""
    titles = [t.inner_text().strip() for t in card.locator(".ac-fact-title").all()]
    values = [v.inner_text().strip() for v in card.locator(".ac-fact-value").all()]
    return dict(zip(titles, values, strict=False))


def press(page: Page, button_title: str, *, card: Locator | None = None, replies: int = 1) -> None:
    """Press an action button (by its title) on `card`, by default the last card on the page; wait for the bot.

    `replies` counts the activities the bot sends; with `replies=0` it waits for the answer to the
    card action itself instead (an Action.Execute answered with a card that replaces this one in
    place, which sends no activity), i.e. for Playground's "invoke 200" row in the Log Panel.
    """
    target = card if card is not None else last_card(page)
    before, invokes = bot_activity_count(page), invoke_count(page)
    target.get_by_role("button", name=button_title, exact=True).click()
    if replies:
        wait_for_bot(page, before, count=replies)
    else:
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while invoke_count(page) <= invokes:
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer to {button_title!r} within {TIMEOUT_MS / 1000:.0f} s")
            page.wait_for_timeout(100)
        page.wait_for_timeout(300)


def fill(card: Locator, label: str, value: str) -> None:
    """Type into a card's text/number/date/time input, found by its label.

    Input.Date and Input.Time are Fluent pickers (an `<input role=combobox>`): the text typed,
    e.g. `2026-12-03` or `14:30`, is parsed when the field loses focus, so Tab is pressed after it.
    """
    field = card.get_by_label(label, exact=False).first
    field.fill(value)
    if field.get_attribute("role") == "combobox":
        field.press("Tab")


def tick(card: Locator, title: str, on: bool = True) -> None:
    """Set a card's Input.Toggle (a checkbox or switch named by its title)."""
    box = card.get_by_role("checkbox", name=title, exact=False).or_(
        card.get_by_role("switch", name=title, exact=False)).first
    box.set_checked(on)


def choose(card: Locator, label: str, option: str) -> None:
    """Pick `option` in a card's ChoiceSet, found by its label.

    A compact ChoiceSet is a Fluent combobox (an `<input role=combobox>`; its options open in a
    listbox elsewhere on the page), or a `<select>` in other hosts; an expanded one is a group of
    radio buttons (or checkboxes when it allows several), which is searched within the labelled
    group so that the same option ("Yes", "No") of another question is not picked.
    """
    field = card.get_by_label(label, exact=False).first
    tag, role = field.evaluate("e => [e.tagName, e.getAttribute('role')]")
    if tag == "SELECT":
        field.select_option(label=option)
    elif role == "combobox":
        field.click()
        field.page.get_by_role("option", name=option, exact=True).click()
        expect(field).to_have_value(option)
    else:
        choice = field.get_by_role("radio", name=option, exact=True).or_(
            field.get_by_role("checkbox", name=option, exact=True))
        choice.first.check()
