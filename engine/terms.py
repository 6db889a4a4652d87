"""The addon's English terms in the reader's language, for models.

The adapters (``providers/``) mark their texts with ``providers.terms._lt``
and build parametrised ones as ``providers.terms.Term``; Odoo's export puts
them in the ``.pot``. These helpers look a text up in the addon's code
translations when it is shown, in the language of ``env``.
"""

from odoo.tools import format_amount
from odoo.tools.translate import code_translations

MODULE = "multichannel_messaging"


def translate_term(env, text):
    """``text`` in ``env``'s language when it is one of this addon's English
    terms; else unchanged (a provider's own words, a text stored translated)."""
    lang = env.lang or "en_US"
    if not text or lang == "en_US":
        return text
    return code_translations.get_python_translations(MODULE, lang).get(text, text)


def translated(env, text):
    """A ``Term`` (template and parameters, each looked up) or a plain text,
    in ``env``'s language."""
    template = getattr(text, "template", None)
    if template is None:
        return translate_term(env, text)
    params = {
        key: translate_term(env, value) if isinstance(value, str) else value
        for key, value in text.params.items()
    }
    if not params:
        return translate_term(env, template)
    return translate_term(env, template) % params


def error_text(env, exc):
    """The text of a provider's exception (``ProviderError``) for a person."""
    return translated(env, exc.args[0]) if exc.args else str(exc)


def format_money(env, amount, currency, lang=None):
    """``amount`` as its reader sees it (``1.144.250 ₫`` in Vietnamese;
    ``lang``, else the env's): Odoo's ``format_amount`` with plain spaces,
    as texts for Zalo, SMS and the agent's panel show them."""
    text = format_amount(env, amount, currency, lang_code=lang or env.lang)
    return text.replace("\xa0", " ")
