"""The whole-case walk-through in a real browser, in training mode (README: "Training mode").

The bot runs with TRAINING_MODE=true on its own temporary SQLite database; Playground's user is
Riley Referrer, who acts as everyone else with `act as …` in personal chat. One test walks a case
from the panel channel's binding through the rapid review meeting's outcome, the rapid review
report (comments, sign-offs, sent, the National Panel's response) to its closure, pressing the
buttons and filling the card inputs a person would, and asserting on what the page shows.
It runs once per Teams edge (botbuilder, then the Microsoft 365 Agents SDK).
Screenshots: tests/e2e/output/test_a_whole_case_from_referral_to_closure_<edge>_/.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from cards.closing_cards import TOGGLE_TITLE
from tests.e2e import playground as pg
from tests.e2e.playground import expect

PANEL = "Rapid Review Panel"
CHILD = "Alex Walkthrough"  # the child's name: never in the panel channel
BANNER = "TRAINING — not a real case"
REFERENCE = re.compile(r"RR-\d{4}-\d{4}")
LONG_MS = 20_000


@pytest.fixture(params=["botbuilder", "agents"])
def bot_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Training mode, on each Teams edge (TEAMS_EDGE; README, "The Agents SDK edge"): the same
    walk, the same assertions, whichever SDK answers and sends."""
    return {"TRAINING_MODE": "true", "TEAMS_EDGE": request.param}


ACTING = re.compile("You are now acting as|You are yourself again")


def act_as(page, who: str, expected: str) -> int:
    """`act as …` in personal chat; waits for the inbox it shows and returns how many messages it held."""
    pg.open_personal_chat(page)
    # Counted by what they say, not by position: the welcome card of a chat opened for the
    # first time may still be arriving when the command is typed.
    intros = page.locator(pg.BOT_MESSAGE).filter(has_text=ACTING).filter(has_text=expected)
    shown = intros.count()
    before = pg.bot_activity_count(page)
    pg.say(page, f"act as {who}")
    intro = intros.nth(shown)
    expect(intro).to_contain_text(expected)
    match = re.search(r"(\d+) messages? (?:is|are) waiting", intro.inner_text())
    assert match, intro.inner_text()
    waiting = int(match.group(1))
    pg.wait_for_bot(page, before, count=1 + waiting)
    return waiting


def training_today(card) -> datetime:
    match = re.search(r"Training date: \w{3} (\d{2} \w{3} \d{4})", pg.card_text(card))
    assert match, pg.card_text(card)
    return datetime.strptime(match.group(1), "%d %b %Y")


def form_card(page, section: int):
    card = pg.last_card(page)
    expect(card).to_contain_text(f"Referral · section {section} of 6")
    expect(card).to_contain_text(BANNER)
    return card


def next_section(page, card, section: int):
    pg.press(page, "Next", card=card, replies=0)
    return form_card(page, section)


def case_thread(page, reference: str):
    """The channel thread whose post is the case's card: every other post about the case is a reply in it."""
    post = page.locator(pg.CARD).filter(has_text=re.compile(r"Virtual panel(: decide the pathway| — decided)"))
    return pg.threads(page).filter(has=post.filter(has_text=reference)).first


def case_card(page, reference: str):
    """The case's card in the panel channel (opened), scrolled into view."""
    pg.open_channel(page, PANEL)
    card = pg.cards(case_thread(page, reference)).first  # the post; replies come below it
    expect(card).to_contain_text(re.compile(rf"Virtual panel.*{reference} · Child \w+"))
    card.scroll_into_view_if_needed()
    return card


def vote(page, shot, reference: str, choice: str, rationale: str, *, basis: str = "", question: str = "",
         step: str) -> object:
    card = case_card(page, reference)
    pg.press(page, "Vote", card=card, replies=0)
    card = pg.card_with(case_thread(page, reference), "Record vote")
    expect(card).to_contain_text("Your vote for")
    pg.choose(card, "Outcome", choice)
    pg.fill(card, "Rationale for the decision", rationale)
    if basis:
        pg.fill(card, "For a rapid review: how the serious harm criteria are met", basis)
    if question:
        pg.fill(card, "For queries: your question to the referrer", question)
    pg.press(page, "Record vote", card=card, replies=0)
    card = pg.cards(case_thread(page, reference)).first
    # The voter's own answer shows first; the channel's update replaces it a moment later.
    expect(card).not_to_contain_text("Vote recorded")
    card.scroll_into_view_if_needed()
    shot(step)
    return card


def the_report(page, reference: str):
    """The newest report card in personal chat (the requests for comments and sign-off have the same title)."""
    return pg.cards(page).filter(has_text=f"Rapid review report: {reference}").filter(
        has_text="Comments on the draft").last


def test_a_whole_case_from_referral_to_closure(page, shot) -> None:
    # 1. Pat (a partnership manager) binds the panel channel.
    act_as(page, "Pat", "You are now acting as")
    shot("act-as-pat")
    pg.open_channel(page, PANEL)
    thread = pg.post(page, "@Rapid Review use this channel for the panel")
    card = pg.card_with(thread, "Panel channel set")
    expect(card).to_be_visible()
    expect(card).to_contain_text(BANNER)
    shot("panel-channel-set")

    # 2. Riley (Playground's own user) refers through the six sections of the form.
    act_as(page, "me", "You are yourself again (Riley Referrer)")
    pg.say(page, "refer")
    card = form_card(page, 1)
    today = training_today(card)
    incident = today - timedelta(days=2)
    expect(card.get_by_label("Your name").first).to_have_value("Riley Referrer")
    pg.choose(card, "Referring agency", "Education (school or college)")
    pg.fill(card, "Job title", "Designated safeguarding lead")
    pg.fill(card, "Who has the referral been discussed with?", "Head teacher; children's social care duty team")
    shot("form-1-about-you")
    card = next_section(page, card, 2)
    pg.choose(card, "Which pathway are you seeking?", "A — Notifiable incident: rapid review screening")
    shot("form-2-pathway")
    card = next_section(page, card, 3)
    pg.fill(card, "Date of the event that prompted this referral", incident.strftime("%Y-%m-%d"))
    pg.choose(card, "Did the child die or was the child seriously harmed?", "The child was seriously harmed")
    pg.choose(card, "Is abuse or neglect known or suspected?", "Suspected")
    pg.choose(card, "Is any child involved looked after by a local authority", "No")
    pg.fill(card, "What happened — a brief outline",
            "TRAINING WALK-THROUGH. The child was admitted to hospital with unexplained injuries.")
    shot("form-3-incident")
    card = next_section(page, card, 4)
    pg.fill(card, "Name (confidential)", CHILD)
    pg.fill(card, "Date of birth", f"{today.year - 8}-01-01")
    pg.choose(card, "Gender", "Female")
    shot("form-4-children")
    card = next_section(page, card, 5)
    pg.fill(card, "Why does this case meet the criteria", "Serious injury with suspected abuse by a carer.")
    pg.choose(card, "Has the family been consulted about this referral?", "No")
    pg.fill(card, "If not, why not?", "Police investigation ongoing")
    pg.choose(card, "Has the allocated social worker or key worker been consulted?", "Yes")
    shot("form-5-views")
    pg.press(page, "Next", card=card, replies=0)
    card = pg.last_card(page)
    expect(card).to_contain_text("Declaration")
    expect(card).to_contain_text(CHILD)  # the referrer's own review shows the name
    pg.tick(card, "A senior manager in my agency has reviewed this referral.")
    card.get_by_role("button", name="Submit referral").scroll_into_view_if_needed()
    shot("form-6-review")
    pg.press(page, "Submit referral", card=card, replies=0)
    card = pg.last_card(page)
    match = REFERENCE.search(pg.card_text(card))
    assert match, pg.card_text(card)
    reference = match.group(0)
    shot("submitted")

    # 3. The case card in the panel channel: reference and pseudonym, never the child's name.
    card = case_card(page, reference)
    text = pg.card_text(card)
    assert BANNER in text
    assert "Virtual panel: decide the pathway" in text
    assert CHILD not in pg.thread_with(page, reference).inner_text()
    expect(page.get_by_text(CHILD)).to_have_count(0)
    assert pg.card_buttons(card)[:2] == ["Vote", "View referral"]
    shot("case-card")

    # Laura (local authority) sends a question back to the referrer.
    act_as(page, "Laura", "Laura")
    card = vote(page, shot, reference, "Queries back to the referrer before a decision",
                "We need to know more about the previous term's absences before deciding.",
                question="When did the school first notice the bruising, and who was told?", step="laura-queries")
    expect(card).to_contain_text("Waiting for the referrer to answer a question from: Local authority")

    # Riley answers it from the inbox; the votes start again.
    assert act_as(page, "me", "You are yourself again") >= 1
    card = pg.card_with(page, "The panel has a question")
    expect(card).to_contain_text("Inbox of Riley Referrer")
    expect(card).to_contain_text("When did the school first notice the bruising")
    pg.fill(card, "Your answer", "In September; the head teacher and the duty team were told the same day.")
    shot("riley-answers")
    pg.press(page, "Send answer", card=card, replies=0)
    expect(pg.last_card(page)).to_contain_text("Answer sent")
    card = case_card(page, reference)
    expect(card).to_contain_text("The referrer has answered the panel's question; the votes have started again.")
    answered = pg.card_with(pg.thread_with(page, reference), "the referrer answered")
    expect(answered).to_contain_text("The votes have been cleared: please vote again on the case card.")
    shot("votes-start-again")

    # Laura: rapid review; Dan (police) disagrees once, then agrees; Nina (health) agrees.
    act_as(page, "Laura", "Laura")
    vote(page, shot, reference, "Meets the threshold for a rapid review",
         "Serious injury with suspected abuse; the criteria for a rapid review are met.",
         basis="Hospital admission with unexplained injuries.", step="laura-rapid-review")
    act_as(page, "police", "Dan")
    card = vote(page, shot, reference, "Practice review, but not a rapid review",
                "Police view: learning for local practice rather than a rapid review.", step="dan-disagrees")
    expect(card).to_contain_text("No consensus yet")
    card = vote(page, shot, reference, "Meets the threshold for a rapid review",
                "On reflection the serious harm threshold is met; rapid review.",
                basis="Serious physical injury.", step="dan-changes")
    expect(card).not_to_contain_text("No consensus yet")
    act_as(page, "health", "Nina")
    card = vote(page, shot, reference, "Meets the threshold for a rapid review",
                "Health agree: serious harm with suspected abuse, rapid review.",
                basis="Injuries needing hospital care.", step="nina-decides")
    expect(card).to_contain_text("Decided: Meets the threshold for a rapid review")
    expect(card).to_contain_text("all three partners agreed")
    expect(card.get_by_role("button", name="Vote", exact=True)).to_have_count(0)

    # 4. The meeting is booked at once (offline provider: no calendar): its card in the channel.
    meeting = pg.card_with(pg.threads(page).filter(has_text="Rapid review meeting").first, reference)
    expect(meeting).to_contain_text("Rapid review meeting")
    expect(meeting).to_contain_text(BANNER)
    meeting.scroll_into_view_if_needed()
    when = pg.facts(meeting)["When"]
    assert re.fullmatch(r"\w{3} \d{2} \w{3} \d{4}, \d{2}:\d{2}–\d{2}:\d{2}", when), when
    assert pg.facts(meeting)["Chair"] == "Chris Chair"
    expect(meeting).to_contain_text("Booked without Microsoft Graph")
    expect(meeting.get_by_text("Download invitation (.ics)")).to_be_visible()  # an OpenUrl button
    assert "Re-book" in pg.card_buttons(meeting)
    expect(page.get_by_text(CHILD)).to_have_count(0)
    shot("meeting-booked")

    # 5. The meeting: the training clock moves to it and past its end; the chair records the outcome.
    pg.open_personal_chat(page)
    answer = pg.say(page, "advance to the meeting")
    expect(answer).to_contain_text(f"Training date moved to the rapid review meeting: now {when.split('–')[0]}")
    answer = pg.say(page, "advance 3 hours")
    expect(answer).to_contain_text("Training date moved by 3 hours")
    shot("clock-advanced")
    # The reminders that fell due on the way are in their owners' personal chats (several at once
    # as one digest), not in the panel channel: Laura's inbox holds hers, naming only her.
    assert act_as(page, "Laura", "Laura") >= 1
    reminders = pg.cards(page).filter(has_text=re.compile(rf"Reminder · {reference}")).last
    expect(reminders).to_contain_text(re.compile(r"(For|Escalated to) Laura LocalAuthority"))
    expect(reminders).not_to_contain_text("fell due while the bot was unavailable")  # the clock moved; no outage
    reminders.scroll_into_view_if_needed()
    shot("laura-reminders")
    # A step that became overdue gets one post in the case's thread, naming no one.
    pg.open_channel(page, PANEL)
    escalated = pg.card_with(case_thread(page, reference), f"Escalated · {reference}")
    expect(escalated.first).to_contain_text("reminded in their personal chats")
    expect(escalated.first).not_to_contain_text("Laura")
    escalated.first.scroll_into_view_if_needed()
    shot("escalation-in-the-case-thread")
    assert act_as(page, "chair", "You are now acting as Chris Chair (chair)") >= 2
    notes = pg.card_with(page, "CONFIDENTIAL WHEN COMPLETED — for the chair")
    expect(notes).to_contain_text(f"Rapid review panel: {reference}")
    expect(notes).to_contain_text("Inbox of Chris Chair")
    assert pg.facts(notes)["Meeting"] == when
    assert pg.facts(notes)["Date of serious incident or death"] == incident.strftime("%a %d %b %Y")
    expect(notes).to_contain_text("The child was admitted to hospital with unexplained injuries.")
    notes.scroll_into_view_if_needed()
    shot("chair-notes")
    card = pg.card_with(page, "Record the rapid review outcome")
    expect(card).to_contain_text(BANNER)
    expect(card).to_contain_text("Acting as Chris Chair (chair)")
    pg.choose(card, "Is a local child safeguarding practice review recommended?", "No")
    pg.choose(card, "Is a national review recommended?", "No")
    pg.fill(card, "Rationale", "Serious harm with suspected abuse, but the learning about information sharing is "
                              "already clear from the agencies' returns; the criteria for a local review are not met.")
    pg.fill(card, "Learning identified", "School and GP did not share concerns about absences and bruising.")
    pg.fill(card, "Who took part in the decision", "Laura LocalAuthority, Dan Police, Nina Health, Chris Chair")
    for partner in ("Local authority", "Police", "Health (ICB)"):
        pg.tick(card, partner)
    card.get_by_role("button", name="Save the outcome").scroll_into_view_if_needed()
    shot("outcome-filled")
    pg.press(page, "Save the outcome", card=card, replies=0)
    expect(pg.card_with(page, "Record the rapid review outcome")).to_have_count(0)  # answered in place:
    expect(pg.card_with(page, "Rapid review meeting held")).to_contain_text(reference)  # the channel's summary
    record = pg.card_with(page, "Rapid review record")  # to the chair: the Word record for the National Panel
    expect(record).to_contain_text(f"{reference} (Child ")
    for button in ("Save the record to my OneDrive (.docx)", "Get a one-time link instead",
                   "Start the rapid review report"):
        expect(record.get_by_role("button", name=button, exact=True)).to_be_visible()
    record.scroll_into_view_if_needed()
    shot("outcome-saved")

    pg.open_channel(page, PANEL)
    held = pg.card_with(pg.threads(page).filter(has_text="Rapid review meeting held").first, reference)
    expect(held).to_contain_text("Rapid review meeting held")
    expect(held).to_contain_text(BANNER)
    assert {k: pg.facts(held)[k] for k in ("Local review recommended", "National review recommended", "Quorate")} \
        == {"Local review recommended": "No", "National review recommended": "No", "Quorate": "Yes"}
    expect(held).to_contain_text("The chair and the partnership managers have the rapid review record")
    expect(page.get_by_text(CHILD)).to_have_count(0)
    held.scroll_into_view_if_needed()
    shot("meeting-held")

    # 6. The rapid review report. Pat (a partnership manager) starts it from her record card.
    meeting_day = datetime.strptime(when[:15], "%a %d %b %Y")
    assert act_as(page, "Pat", "You are now acting as Pat") >= 1
    record = pg.card_with(page, "Rapid review record")
    expect(record).to_contain_text(reference)
    pg.press(page, "Start the rapid review report", card=record, replies=0)
    report = the_report(page, reference)
    expect(report).to_contain_text("Report started")
    assert pg.facts(report)["Status"] == "Report in draft"
    expect(report).to_contain_text("Nothing on the case gives these yet")
    expect(page.get_by_text(CHILD)).to_have_count(0)
    report.scroll_into_view_if_needed()
    shot("report-started")

    # Laura comments on the draft from the request in her inbox.
    assert act_as(page, "Laura", "Laura") >= 1
    asked = pg.card_with(page, "ready for your comments")
    expect(asked).to_contain_text(f"Rapid review report: {reference}")
    due = re.search(r"by (\w{3} \d{2} \w{3} \d{4}, \d{2}:\d{2})", pg.card_text(asked))
    assert due, pg.card_text(asked)
    pg.fill(asked, "Your comment on the draft", "Please add the school's view of the absences last term.")
    asked.get_by_role("button", name="Send my comment").scroll_into_view_if_needed()
    shot("laura-comment")
    pg.press(page, "Send my comment", card=asked, replies=0)
    commented = the_report(page, reference)
    expect(commented).to_contain_text("Please add the school's view of the absences last term.")
    expect(commented).to_contain_text("Laura LocalAuthority")
    shot("laura-commented")

    # Pat edits the items nothing on the case gives, and sends the final draft for sign-off.
    act_as(page, "Pat", "You are now acting as Pat")
    pg.say(page, f"timeline {reference}")
    timeline = pg.card_with(page, re.compile(rf"Timeline\s*{reference}"))
    pg.press(page, "Open the rapid review report", card=timeline, replies=0)
    report = the_report(page, reference)
    expect(report).to_contain_text("Not yet commented:")
    pg.press(page, "Edit the report", card=report, replies=0)
    edit = pg.card_with(page, "Each text starts from where the case records it")
    for label, text in (
            ("Immediate safeguarding arrangements", "Child placed with grandparents under a safety plan; siblings "
                                                    "seen by social care the same day."),
            ("Plans for disseminating", "A 7-minute briefing to every partner agency within two months."),
            ("Potential for additional learning", "How schools share concerns about absences with the GP."),
            ("Why no further learning is expected", "The agencies' returns already show the learning; each agency "
                                                    "has an action plan."),
            ("Agencies involved in the rapid review", "Children's social care, police, the GP practice, the school.")):
        pg.fill(edit, label, text)
    edit.get_by_role("button", name="Save the report").scroll_into_view_if_needed()
    shot("report-edited")
    pg.press(page, "Save the report", card=edit, replies=0)
    report = the_report(page, reference)
    expect(report).to_contain_text("Report saved")
    expect(report).not_to_contain_text("Nothing on the case gives these yet")
    report.scroll_into_view_if_needed()
    shot("report-card")
    pg.press(page, "Send the final draft for sign-off", card=report, replies=0)
    report = the_report(page, reference)
    assert pg.facts(report)["Report"] == "Final draft — with the chair and a partnership manager for sign-off"
    pg.press(page, "Sign off the report", card=report, replies=0)
    report = the_report(page, reference)
    assert pg.facts(report)["Partnership manager's sign-off"].startswith("Pat Manager, ")
    assert pg.facts(report)["Chair's sign-off"] == "not yet"
    shot("pat-signed-off")

    # Chris (the chair) signs off from the request in his inbox.
    assert act_as(page, "chair", "You are now acting as Chris Chair (chair)") >= 1
    request = pg.card_with(page, "The final draft is ready for sign-off")
    expect(request).to_contain_text(reference)
    request.scroll_into_view_if_needed()
    shot("sign-off-request")
    pg.press(page, "Open the report", card=request, replies=0)
    report = the_report(page, reference)
    pg.press(page, "Sign off the report", card=report, replies=0)
    report = the_report(page, reference)
    expect(report).to_contain_text("Both sign-offs are in")
    assert pg.facts(report)["Chair's sign-off"].startswith("Chris Chair, ")
    shot("chair-signed-off")

    # 7. Pat records it sent, the National Panel's response (it agrees) and closes the case.
    act_as(page, "Pat", "You are now acting as Pat")
    pg.say(page, f"timeline {reference}")
    timeline = pg.card_with(page, re.compile(rf"Timeline\s*{reference}"))
    pg.press(page, "Open the rapid review report", card=timeline, replies=0)
    report = the_report(page, reference)
    report.get_by_role("button", name="Record it sent", exact=True).click()
    pg.fill(report, "Date sent to the National Panel", meeting_day.strftime("%Y-%m-%d"))
    pg.press(page, "Record sent", card=report, replies=0)
    report = the_report(page, reference)
    expect(report).to_contain_text("Recorded as sent")
    assert pg.facts(report)["Status"] == "Report submitted"
    assert pg.facts(report)["Sent (round 1)"] == f"{meeting_day:%a %d %b %Y}, recorded by Pat Manager"
    shot("report-sent")
    report.get_by_role("button", name="Record the National Panel's response", exact=True).click()
    report.get_by_role("radio", name="Agrees with the partnership's decision", exact=True).check()
    pg.fill(report, "Date of the response", meeting_day.strftime("%Y-%m-%d"))
    pg.press(page, "Record the response", card=report, replies=0)
    report = the_report(page, reference)
    assert pg.facts(report)["National Panel (round 1)"] == (
        f"Agrees with the partnership's decision, {meeting_day:%a %d %b %Y}")
    report.get_by_role("button", name="Close the case or commission a review", exact=True).click()
    report.get_by_role("radio", name="No further review: close the case", exact=True).check()
    pg.fill(report, "Reason", "The National Panel agrees that no further review is needed.")
    # the desk-top reviews at 6 and 12 months are still ahead: listed, and closed anyway with the reason
    expect(report).to_contain_text("Still open — closing stops them")
    pg.tick(report, TOGGLE_TITLE)
    shot("closing")
    pg.press(page, "Confirm", card=report, replies=0)
    report = the_report(page, reference)
    assert pg.facts(report)["Status"] == "Closed"
    expect(report).to_contain_text("The case is closed: every deadline and reminder for it has stopped.")
    assert pg.facts(report)["Ended"].startswith("No further review, case closed, ")
    expect(report).to_contain_text("The National Panel agrees that no further review is needed.")
    report.scroll_into_view_if_needed()
    shot("closed-report")

    # 8. The channel: the case card says Closed; the notices there hold no typed text.
    card = case_card(page, reference)
    expect(card).to_contain_text("Closed. Every deadline and reminder for this case has stopped.")
    expect(card).not_to_contain_text("must notify the National Panel")
    assert pg.facts(card)["Status"] == "Closed"
    shot("closed-case-card")
    closed = pg.card_with(pg.thread_with(page, "Every deadline and reminder for it has stopped"), reference)
    expect(closed).to_contain_text("Closed — no further review")
    # One thread per case: the meeting card, the report's notices and this one are replies under the case card.
    thread = case_thread(page, reference)
    for reply in ("Rapid review meeting", "The National Panel's response is recorded", "Closed — no further review"):
        expect(thread).to_contain_text(reply)
    for typed in ("Please add the school's view", "agrees that no further review", "7-minute briefing", CHILD):
        expect(page.get_by_text(typed)).to_have_count(0)
    closed.scroll_into_view_if_needed()
    shot("closed-notice")

    # 9. `timeline RR-…`: no statutory step left pending, due or overdue.
    pg.open_personal_chat(page)
    pg.say(page, f"timeline {reference}")
    timeline = pg.card_with(page, re.compile(rf"Timeline\s*{reference}"))
    assert pg.facts(timeline)["Status"] == "Closed"
    shown = pg.card_text(timeline)
    for word in ("pending", "overdue", "due "):
        assert word not in shown.lower(), shown
    timeline.scroll_into_view_if_needed()
    shot("closed-timeline")
