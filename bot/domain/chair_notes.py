"""The chair's papers for the rapid review meeting, as the sources write them: the agenda,
the purpose, the confidentiality statement, and the core panel's questions 4.1–4.7 each with
its prompts (Stockport Rapid Review Process (2019), Appendices E and F; SSCP Rapid Review
Panel Agenda template). One copy of the words, used by the chair's card (cards/) and by the
chair's notes document (bot/adapters/documents.py).

Pure data: no I/O.
"""

from __future__ import annotations

from typing import NamedTuple


class ChairQuestion(NamedTuple):
    number: str
    question: str
    prompts: str


CHAIR_QUESTIONS: tuple[ChairQuestion, ...] = (
    ChairQuestion("4.1", "What potential improvements may be needed to safeguard and promote the welfare of children?",
                  "Were there gaps in responses due to lack of training, understanding or service? Were there any "
                  "issues in local processes or policy? Or was this an extraordinary incident that could not have "
                  "been predicted or planned for?"),
    ChairQuestion("4.2", "What evidence was there that the case highlights recurrent themes in the safeguarding and "
                         "promotion of the welfare of children?",
                  "Have these issues been identified before? Has action been taken, and is this evidence of a lack "
                  "of impact? Are these concerns already known and actions not yet implemented?"),
    ChairQuestion("4.3", "Were there concerns regarding two or more organisations or agencies working together "
                         "effectively to safeguard and promote the welfare of children? Or the notable absence of "
                         "agency involvement?",
                  "Were there challenges in agencies working collaboratively to address the needs of the child or "
                  "family? Were there gaps in information sharing? Were these issues so serious and endemic they "
                  "raise concerns for local practice? Were the family, child or young person invisible to services "
                  "when they should have been clearly identified as needing support?"),
    ChairQuestion("4.4", "Are we being asked to consider a review by the Child Safeguarding Practice Review Panel who "
                         "have considered and concluded a local review may be more appropriate?",
                  "Has the case been reviewed and notified before as not for a review, and the National Panel has "
                  "challenged that?"),
    ChairQuestion("4.5", "Are the panel concerned about the actions of a single agency?",
                  "Are there significant failures to act that raise concerns about safeguarding decision making? "
                  "Are there other processes that should have happened and do not appear to be in place (for "
                  "example a 72-hour incident review or a mental health death review)? Is an agency absent from the "
                  "case that should have been involved?"),
    ChairQuestion("4.6", "Are more than one local authority, police area or integrated care board involved, including "
                         "in cases where families have moved around?",
                  "Do there appear to be challenges with working across borders in accessing services and "
                  "developing a collaborative support approach?"),
    ChairQuestion("4.7", "Does the case raise issues relating to safeguarding or promoting the welfare of children in "
                         "institutional settings (child minders' homes, adoption services, residential placements, "
                         "secure homes)?",
                  "Has there been a death in a secure children's home or a mental health secure setting? Are there "
                  "processes to provide scrutiny and assurance around this incident? Do partners have concerns about "
                  "how the incident happened or the setting's ability to manage such cases?"),
)

# Stockport Rapid Review Process (2019), Appendix E: the agenda's six items.
AGENDA = (
    "Welcome, purpose and introductions (chair)",
    "Overview of the case — summary by the chair from the submitted reports",
    "Discussion with invited partners",
    "Assessment of need by the core panel (questions 4.1–4.7)",
    "Conclusion and proposal to the National Panel (chair)",
    "Actions; outcome notification: who tells the National Panel, Ofsted, DfE and the family, by when",
)

# SSCP Rapid Review Panel Agenda template, 'Panel Purpose' (after Working Together 2023).
PURPOSE = (
    "When a serious incident becomes known to the partnership, it undertakes a rapid review of the case. The aim is "
    "to: gather the facts about the case, as far as they can be readily established at the time; discuss whether "
    "any immediate action is needed to ensure children's safety, and share any learning appropriately; consider the "
    "potential for identifying improvements to safeguard and promote the welfare of children; and decide what steps "
    "to take next, including whether to undertake a child safeguarding practice review.",
    "The panel meets because the virtual panel found the criteria of serious harm indicated and the case "
    "notifiable. It does not have to take a review forward when the criteria are indicated, but the rationale for "
    "its decision must be clear (Stockport Rapid Review Process (2019), Appendix E, item 1).",
)

# SSCP Rapid Review Panel Agenda template, 'Confidentiality Statement'.
CONFIDENTIALITY = (
    "The reports shared and the discussions at this meeting are confidential and must not be shared. The meeting "
    "may be recorded to assist in the preparation of the report; the recording is destroyed when the report has "
    "been prepared.",
    "A child or their family may be the subject of more than one review at a time. To prevent duplication and "
    "enhance the impact of learning, the information provided to inform this review may be used to inform another "
    "review.",
)

# SSCP Rapid Review Panel Agenda template, 'Agency Case Discussion': the views the panel hears.
VIEWS = (
    ("The child's voice and lived experience", "What do we know of the child's views, wishes, feelings and daily "
     "life? How was the child seen and heard by each agency?"),
    ("Views of parents, carers and the wider family or community", "What have the family said? Who will talk to "
     "them about the review, and how will they be involved?"),
    ("Views of key front-line professionals (where relevant)", "What do the practitioners who knew the child say?"),
)

# SSCP Rapid Review Panel Agenda template, 'Outcome Notification' (for the chair).
OUTCOME_NOTIFICATION = ("Agree who will notify, and by when: the independent adviser, the partnership, the Child "
                        "Safeguarding Practice Review Panel, Ofsted and the DfE, and the family.")
