"""Pseudonyms stand in for the child in every channel message, so each open case needs its own."""

import random
import string

from bot.domain.case import choose_pseudonym


def test_a_free_single_letter_is_chosen_first() -> None:
    in_use = {f"Child {c}" for c in string.ascii_uppercase if c != "Q"}
    assert choose_pseudonym(in_use, random.Random(1)) == "Child Q"


def test_two_letters_follow_the_single_letters() -> None:
    in_use = {f"Child {c}" for c in string.ascii_uppercase}
    assert choose_pseudonym(in_use, random.Random(1)) == "Child AA"


def test_a_letter_and_a_digit_follow_every_two_letter_name() -> None:
    letters = string.ascii_uppercase
    in_use = {f"Child {c}" for c in letters} | {f"Child {a}{b}" for a in letters for b in letters}
    assert choose_pseudonym(in_use, random.Random(1)) == "Child A1"
