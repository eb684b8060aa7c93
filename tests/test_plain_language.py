"""Plain language on the Report a need form: its labels, help texts and messages (thanks,
refusals) read at a reading age of about 9 to 11, measured with the Flesch-Kincaid grade
(textstat; reading age is about grade + 5), and every refusal says what to do.

The texts are the page's own (dashboard.report_texts, the privacy notes it shows) and the
messages the real checks give for wrong reports and postcodes, so a new or changed text is
measured without this file changing.
"""

from __future__ import annotations

import html
import re

import pytest
import textstat

from dashboard import report_texts
from dashboard.common import problem_lines
from needsmap.errors import ValidationError
from needsmap.store import StoreReader
from needsmap.voice import needs, privacy
from needsmap.voice.locate import locate_postcode

MAX_GRADE = 6.0  # Flesch-Kincaid grade 6: reading age about 11
SHORT = 10  # words: a shorter text is judged with the other short ones (see ``report``)
# A refusal names the step to take: one of these verbs, as a word.
ACTIONS = {"choose", "describe", "type", "give", "make", "check", "click", "try", "wait", "allow"}
SAMPLE = {"ref": 12, "name": "Trafford 001A", "code": "E01006109"}


def plain(text: str) -> str:
    """The words a reader sees: Markdown's bold and list marks and the escapes of user text
    (``problem_lines``) left out."""
    return re.sub(r"^- ", "", html.unescape(text).replace("**", ""), flags=re.M)


def page_texts() -> dict[str, str]:
    """Every text the form shows, by name, with sample values in its gaps."""
    texts = {name: value.format(**SAMPLE) for name, value in vars(report_texts).items()
             if name.isupper() and isinstance(value, str) and "{problem}" not in value}
    texts |= {"privacy.PUBLIC_LOCATION_NOTE": privacy.PUBLIC_LOCATION_NOTE,
              "privacy.CONTACT_NOTE": privacy.CONTACT_NOTE}
    return texts


def wrong_report(**changes: object) -> needs.NeedReport:
    fields = {"category": "food", "description": "The food bank closed.",
              "location": needs.Location(None, None, "", None)} | changes
    return needs.NeedReport(**fields)


def refusals(cur) -> dict[str, list[str]]:  # noqa: ANN001
    """What the form shows for each kind of mistake: its lines as the page writes them."""
    reports = {
        "no category, no text": wrong_report(category="", description=" "),
        "text too long": wrong_report(description="x" * (needs.MAX_DESCRIPTION + 1)),
        "too many people": wrong_report(people_affected=needs.MAX_PEOPLE + 1),
        "unknown age group": wrong_report(age_groups=("toddlers",)),
        "contact too long": wrong_report(contact="x" * (needs.MAX_CONTACT + 1)),
    }
    shown = {what: needs.check_report(r) for what, r in reports.items()}
    for what, postcode in {"no postcode": "", "not a postcode": "hello there",
                           "a sentence, not a postcode": "my postcode is M32 9AF thanks",
                           "unknown postcode": "QQ1 1QQ", "postcode outside the area": "M1 1AE"
                           }.items():
        with pytest.raises(ValidationError) as caught:
            locate_postcode(cur, postcode)
        shown[what] = [report_texts.OR_MAP.format(problem=caught.value)]
    shown["map: no place clicked"] = [report_texts.NO_POINT]
    assert all(shown.values()), shown
    return {what: problem_lines(ValidationError(report_texts.NOT_SENT, problems))
            for what, problems in shown.items()}


def grade(text: str) -> float:
    return textstat.flesch_kincaid_grade(plain(text))


def sentence(text: str) -> str:
    """``text`` ending as a sentence, so texts joined together are counted as sentences."""
    return text if plain(text).rstrip().endswith((".", "?", "!")) else text + "."


def report(rows: list[tuple[str, str]]) -> list[str]:
    """Print each text's grade and reading age; the texts over ``MAX_GRADE``. Texts shorter
    than ``SHORT`` words (labels, buttons) are judged together, as one passage: the formula is
    made for passages, and on three words one long word moves it by four grades."""
    print(f"\n{'text':34} grade  reading age  words")
    over, short = [], []
    for name, text in rows:
        g, words = grade(text), textstat.lexicon_count(plain(text))
        print(f"{name[:34]:34} {g:5.1f}  {g + 5:6.1f}      {words:3}"
              + ("  (short: judged with the other short ones)" if words < SHORT else ""))
        if words < SHORT:
            short.append(sentence(text))
        elif g > MAX_GRADE:
            over.append(f"{name} (grade {g:.1f}): {plain(text)}")
    if short:
        g = grade(" ".join(short))
        print(f"{f'the {len(short)} short texts together':34} {g:5.1f}  {g + 5:6.1f}")
        if g > MAX_GRADE:
            over.append(f"the short texts together (grade {g:.1f})")
    return over


def test_the_report_forms_labels_and_help_read_at_reading_age_9_to_11():
    texts = page_texts()
    assert {"POSTCODE", "DESCRIBE", "DESCRIBE_HELP", "SUCCESS", "CONTACT"} <= set(texts)
    over = report(list(texts.items()))
    whole = grade(" ".join(sentence(t) for t in texts.values()))
    print(f"{'the whole form':34} {whole:5.1f}  {whole + 5:6.1f}")
    assert not over, "\n".join(over)


def test_the_report_forms_refusals_read_at_reading_age_9_to_11_and_say_what_to_do(
        trafford_store):
    shown = refusals(StoreReader(trafford_store.store_path).cursor())
    headings = {lines[0] for lines in shown.values()}
    assert len(headings) == 1  # "Your report was not sent yet.", then what to fix
    lines = [(what, line) for what, problem in shown.items() for line in problem[1:]]
    lines += [("limit_message", needs.limit_message(600, "ok")),
              ("limit_message, no cookie", needs.limit_message(600, "refused"))]
    over = report([("heading", headings.pop()), *lines])
    vague = [f"{what}: {plain(line)}" for what, line in lines
             if not ACTIONS & set(re.findall(r"[a-z]+", plain(line).lower()))]
    assert not over, "\n".join(over)
    assert not vague, "these do not say what to do:\n" + "\n".join(vague)
