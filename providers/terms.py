"""Texts of the adapters that a person reads, marked for translation.

The adapters stay plain Python (no Odoo import): :func:`_lt` returns its
argument unchanged, and Odoo's export finds the ``_lt("...")`` calls in every
Python file of the addon, so these texts land in the ``.pot`` and ``vi.po``.
As in Odoo's ``sms_api``, an adapter answers with a code and the provider's
raw detail; the model that shows the error translates it when it is read
(``messaging.message.error_message_display``), never when it is stored.
"""


def _lt(text):
    """Mark ``text`` (an English literal) for translation; returns it as is."""
    return text


class Term(str):
    """An English text built from a marked template and named parameters.

    It is the English ``str`` (logs, tests, callers that only print it) and
    keeps ``template`` and ``params``, so a model can show it in its reader's
    language (``engine/terms.py``): ``Term(_lt("Balance %(amount)s."), amount=3)``.
    """

    template: str
    params: dict

    def __new__(cls, template, **params):
        term = super().__new__(cls, template % params if params else template)
        term.template = template
        term.params = params
        return term
