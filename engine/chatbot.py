"""Plain rules of a chatbot question on Zalo: how its answers are shown
(buttons, or a numbered list beyond Zalo's 5 buttons) and which answer a
customer's text selects (a tap sends the answer back as text; typed text
matches ignoring case, accents and punctuation; a number picks from the
list)."""

from ..providers.sms_text import normalize_keyword
from ..providers.zalo_interactive import BUTTONS_MAX, answer_buttons


def uses_buttons(answers):
    """Whether these answers (texts) fit on Zalo's buttons."""
    return 0 < len(answers) <= BUTTONS_MAX


def question_content(message, answers):
    """``(text, buttons)`` of a question: the buttons of up to 5 answers,
    else the answers numbered in the text (and no buttons)."""
    message = (message or "").strip()
    if uses_buttons(answers):
        return message, answer_buttons(answers)
    lines = ["%s. %s" % (index, answer) for index, answer in enumerate(answers, 1)]
    return "\n".join(filter(None, [message, *lines])), None


def selected_index(text, answers):
    """The index of the answer ``text`` selects, else None: the answer
    itself or its button's payload (compared without case, accents nor
    punctuation), or its number when the answers are a numbered list."""
    typed = normalize_keyword(text)
    if not typed:
        return None
    if not uses_buttons(answers) and typed.isdigit():
        number = int(typed)
        return number - 1 if 1 <= number <= len(answers) else None
    payloads = [button["payload"] for button in answer_buttons(answers)]
    for index, answer in enumerate(answers):
        candidates = {normalize_keyword(answer)}
        if index < len(payloads):
            candidates.add(normalize_keyword(payloads[index]))
        if typed in candidates:
            return index
    return None
