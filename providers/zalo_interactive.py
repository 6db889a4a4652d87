"""Interactive consultation messages of ``/v3.0/oa/message/cs``: answers
as buttons, and the request for the user's details.

Wire facts (sources and what stays unconfirmed: ``PROTOCOLS.md``):

* buttons go beside the ``text`` as ``attachment`` ``{"type": "template",
  "payload": {"buttons": [{"title": ..., "type": "oa.query.show",
  "payload": "<text sent back>"}]}}``, at most 5; a tap on an
  ``oa.query.show`` button comes back as a ``user_send_text`` whose text
  is the payload (shown in the user's chat; ``oa.query.hide`` hides it);
* the request for the user's name, phone and address is
  ``{"type": "template", "payload": {"template_type": "request_user_info",
  "elements": [{"title", "subtitle", "image_url"}]}}`` (title 100,
  subtitle 500 characters, a PNG or JPG link); the answer is the
  ``user_submit_info`` event.
"""

BUTTONS_MAX = 5
BUTTON_TITLE_MAX = 100
BUTTON_PAYLOAD_MAX = 1000
REQUEST_TITLE_MAX = 100
REQUEST_SUBTITLE_MAX = 500


def answer_buttons(answers):
    """The buttons of up to 5 answers (texts): each sends its answer back."""
    return [
        {
            "title": answer[:BUTTON_TITLE_MAX],
            "type": "oa.query.show",
            "payload": answer[:BUTTON_PAYLOAD_MAX],
        }
        for answer in answers[:BUTTONS_MAX]
    ]


def buttons_attachment(buttons):
    """The ``message.attachment`` of a text with buttons."""
    return {"type": "template", "payload": {"buttons": list(buttons)}}


def request_info_attachment(request):
    """The ``message.attachment`` asking for the user's details
    (``request``: ``title``, ``subtitle``, ``image_url``)."""
    element = {
        "title": (request.get("title") or "")[:REQUEST_TITLE_MAX],
        "subtitle": (request.get("subtitle") or "")[:REQUEST_SUBTITLE_MAX],
        "image_url": request.get("image_url") or "",
    }
    return {
        "type": "template",
        "payload": {"template_type": "request_user_info", "elements": [element]},
    }
