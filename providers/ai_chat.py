"""An OpenAI-compatible chat-completions client: plain Python, no ORM.

``POST {base_url}/chat/completions`` with ``Authorization: Bearer <key>`` and
``{"model", "messages", "temperature": 0}``; the answer is
``choices[0].message.content`` (see PROTOCOLS.md, "AI answers"). Every
failure becomes one :class:`AiError` subclass whose text names what went
wrong and never the key: OpenAI's own error messages may quote part of the
key ("Incorrect API key provided: sk-ab***yz"), so only the error's ``code``
or ``type`` (short identifiers) is kept from the provider's answer.
"""

import re

import urllib3

from .base import BaseAdapter
from .terms import Term, _lt
from .transport import TransportError

# what the model writes, alone, when the data does not answer the question
CANNOT_ANSWER = "[[HANDOFF]]"

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class AiError(Exception):
    """The endpoint gave no usable answer; ``reason`` is a short key."""

    reason = "error"

    def __init__(self, message, http_status=None, code=None):
        super().__init__(message)
        self.http_status = http_status
        self.code = code


# one class per kind of failure (``reason`` is what logs show)
class AiAuthError(AiError):
    reason = "auth"  # 401/403: the key is wrong, revoked, or not allowed


class AiNotFoundError(AiError):
    reason = "not_found"  # 404: wrong base URL or unknown model


class AiRateError(AiError):
    reason = "rate"  # 429: rate limit or exhausted quota


class AiServerError(AiError):
    reason = "server"  # 5xx: the endpoint failed


class AiTimeoutError(AiError):
    reason = "timeout"  # no answer within the timeout (connect or read)


class AiConnectionError(AiError):
    reason = "connection"  # DNS, refused or lost connection


class AiBadResponseError(AiError):
    # not JSON, not the chat-completions shape, no choice, an empty content,
    # or another 4xx
    reason = "bad_response"


def _provider_code(body):
    """OpenAI's ``{"error": {"code", "type", "message"}}``: the code or type
    only (an identifier), never the message, which may quote the key."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    for key in ("code", "type"):
        value = error.get(key)
        if isinstance(value, str) and _IDENTIFIER.match(value):
            return value
    return None


def _status_error(status, code):
    detail = f" ({code})" if code else ""
    if status in (401, 403):
        return AiAuthError(
            Term(
                _lt("The AI endpoint refused the key (HTTP %(status)s%(detail)s)."),
                status=status,
                detail=detail,
            ),
            status,
            code,
        )
    if status == 404:
        return AiNotFoundError(
            Term(
                _lt(
                    "The AI endpoint answered HTTP 404%(detail)s: check the base "
                    "URL and the model name."
                ),
                detail=detail,
            ),
            status,
            code,
        )
    if status == 429:
        return AiRateError(
            Term(
                _lt(
                    "The AI endpoint is rate limited or out of quota "
                    "(HTTP 429%(detail)s)."
                ),
                detail=detail,
            ),
            status,
            code,
        )
    if status >= 500:
        return AiServerError(
            Term(_lt("The AI endpoint failed (HTTP %(status)s)."), status=status),
            status,
            code,
        )
    return AiBadResponseError(
        Term(
            _lt("The AI endpoint refused the request (HTTP %(status)s%(detail)s)."),
            status=status,
            detail=detail,
        ),
        status,
        code,
    )


class AiChatClient(BaseAdapter):
    """``config``: ``base_url``, ``api_key``, ``model``, ``timeout`` (seconds,
    the most one call may wait: connect and read together)."""

    provider_type = "ai_chat"

    def __init__(self, config, session=None):
        super().__init__(config, session=session)
        timeout = float(self.config.get("timeout") or 15.0)
        # ``total`` bounds connect + read; each socket read is bounded by it too
        self._timeout = urllib3.Timeout(total=timeout, connect=min(timeout, 5.0))
        self.timeout = (min(timeout, 5.0), timeout)
        self.base_url = (self.config.get("base_url") or "").rstrip("/")

    def _headers(self):
        return {"Authorization": "Bearer %s" % self.config.get("api_key", "")}

    def _call(self, method, path, **kwargs):
        try:
            body = self._request(
                method, self.base_url + path, headers=self._headers(), **kwargs
            )
        except TransportError as exc:
            raise self._transport_error(exc) from None
        status = body.pop("_http_status", 200)
        if status >= 400:
            raise _status_error(status, _provider_code(body))
        return body

    @staticmethod
    def _transport_error(exc):
        if exc.http_status and exc.http_status >= 400:
            return _status_error(exc.http_status, _provider_code(exc.raw))
        if exc.reason in ("timeout", "read_timeout"):
            return AiTimeoutError(
                Term(_lt("The AI endpoint did not answer in time.")),
            )
        if exc.reason == "bad_response":
            return AiBadResponseError(
                Term(_lt("The AI endpoint's answer is not JSON.")),
            )
        return AiConnectionError(
            Term(_lt("Cannot reach the AI endpoint (%(reason)s)."), reason=exc.reason),
        )

    def complete(self, messages):
        """The model's answer to ``messages`` (stripped text), or raise an
        :class:`AiError`."""
        body = self._call(
            "POST",
            "/chat/completions",
            json={
                "model": self.config.get("model"),
                "messages": messages,
                "temperature": 0,
            },
        )
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices:
            raise AiBadResponseError(Term(_lt("The AI endpoint gave no answer.")))
        message = choices[0].get("message") if isinstance(choices[0], dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str) or not content.strip():
            raise AiBadResponseError(Term(_lt("The AI endpoint gave an empty answer.")))
        return content.strip()

    def test_connection(self):
        """``GET {base}/models``: the key works; says whether the model is
        listed (some compatible servers list none)."""
        body = self._call("GET", "/models")
        data = body.get("data")
        names = {item.get("id") for item in data or () if isinstance(item, dict)}
        model = self.config.get("model")
        if model in names:
            return Term(
                _lt("The AI endpoint accepts the key; model %(model)s is available."),
                model=model,
            )
        return Term(
            _lt(
                "The AI endpoint accepts the key, but does not list model "
                "%(model)s: check its name."
            ),
            model=model,
        )


def build_messages(system_prompt, data_text, question):
    """The chat: our instructions and the shop's data as system messages, the
    customer's words as the user message."""
    return [
        {"role": "system", "content": system_prompt},
        {"role": "system", "content": data_text},
        {"role": "user", "content": question},
    ]


def is_cannot_answer(answer):
    """The model says the data does not answer (the marker anywhere)."""
    return CANNOT_ANSWER in answer
