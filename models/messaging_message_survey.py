"""A survey inside the message: each recipient's message carries its own
``survey.user_input`` (Odoo's one answer per person, made for the message's
contact as ``survey._create_answer(partner=...)`` does), whose start link
replaces ``[survey_url]`` in the rendered text and ZBS parameters.

The answers are made when the message is rendered in the queue, one
``create`` per survey for a campaign's batch; never twice for one message:
the answer keeps the message it was made for, so a rendering that crashed
after the create finds it again, and a fallback message uses its parent's."""

from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .messaging_template_survey import SURVEY_PLACEHOLDER


class MessagingMessage(models.Model):
    _inherit = "messaging.message"

    survey_user_input_id = fields.Many2one(
        "survey.user_input",
        "Survey answer",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        copy=False,
        help="The recipient's own answer of the template's survey: its link "
        "went in the message.",
    )

    def _get_survey_answers(self):
        """{message id: survey.user_input} for the messages whose template
        carries a survey, made where missing (see the module's docstring).
        The messages of a survey that cannot be answered fail, with Odoo's
        reason."""
        answers = {}
        todo = self.filtered(lambda m: m.template_id.survey_id and m.partner_id)
        if not todo:
            return answers
        UserInput = self.env["survey.user_input"].sudo()
        made = UserInput.search(
            [
                ("messaging_message_id", "in", todo.ids),
                ("survey_id", "in", todo.template_id.survey_id.ids),
            ]
        )
        by_message = {answer.messaging_message_id.id: answer for answer in made}
        missing = {}
        for message in todo:
            survey = message.template_id.survey_id
            answer = message.survey_user_input_id or by_message.get(message.id)
            if not answer:
                answer = message._get_parent_survey_answer(survey)
            if answer and answer.survey_id == survey:
                answers[message.id] = answer
            else:
                missing.setdefault(survey, []).append(message.id)
        for survey, message_ids in missing.items():
            messages = self.browse(message_ids)
            try:
                created = self._create_survey_answers(survey.sudo(), messages)
            except UserError as error:
                messages._set_failed("invalid_params", error.args[0])
                continue
            answers.update(zip(messages.ids, created, strict=True))
        self._write_survey_answers(
            {
                message_id: answer
                for message_id, answer in answers.items()
                if self.browse(message_id).survey_user_input_id != answer
            }
        )
        return answers

    def _get_parent_survey_answer(self, survey):
        parent = self.fallback_parent_id
        while parent:
            if parent.survey_user_input_id.survey_id == survey:
                return parent.survey_user_input_id
            parent = parent.fallback_parent_id
        return self.env["survey.user_input"]

    def _create_survey_answers(self, survey, messages):
        """One answer per message, in one create: the values
        ``survey._create_answer(partner=...)`` gives an external person."""
        try:
            survey._check_answer_creation(
                False, messages[:1].partner_id, False, check_attempts=False
            )
        except UserError as error:
            raise UserError(
                _(
                    "Survey %(survey)s cannot be answered by these recipients: "
                    "%(error)s",
                    survey=survey.title,
                    error=error.args[0],
                )
            ) from error
        limited = survey.is_attempts_limited and survey.access_mode != "public"
        UserInput = self.env["survey.user_input"].sudo()
        vals_list = []
        for message in messages:
            partner = message.partner_id
            vals = {
                "survey_id": survey.id,
                "partner_id": partner.id,
                "email": partner.email,
                "nickname": partner.name,
                "test_entry": False,
                "is_session_answer": False,
                "messaging_message_id": message.id,
            }
            if limited:
                vals["invite_token"] = UserInput._generate_invite_token()
            vals_list.append(vals)
        answers = UserInput.create(vals_list)
        for question in survey.question_ids.filtered(
            lambda q: (
                q.question_type == "char_box"
                and (q.save_as_email or q.save_as_nickname)
            )
        ):
            for answer in answers:
                if question.save_as_email and answer.email:
                    answer._save_lines(question, answer.email)
                if question.save_as_nickname and answer.nickname:
                    answer._save_lines(question, answer.nickname)
        return answers

    def _write_survey_answers(self, answers):
        """Set ``survey_user_input_id`` of many messages in one UPDATE."""
        if not answers:
            return
        self.flush_model(["survey_user_input_id"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE messaging_message m
                   SET survey_user_input_id = v.answer_id
                  FROM (VALUES %s) AS v(id, answer_id)
                 WHERE m.id = v.id
                """,
                SQL(", ").join(
                    SQL("(%s::int, %s::int)", message_id, answer.id)
                    for message_id, answer in answers.items()
                ),
            )
        )
        written = self.browse(list(answers))
        written.invalidate_recordset(["survey_user_input_id"])
        written.modified(["survey_user_input_id"])

    def _fill_survey_links(self, contents):
        """Replace the survey placeholder in ``contents`` ({message id: the
        rendered values: body, subject, template_data}) by each message's
        own survey link; a message whose answer could not be made fails and
        leaves ``contents``."""
        answers = self._get_survey_answers()
        for message_id, answer in answers.items():
            values = contents.get(message_id)
            if values:
                url = answer.get_base_url() + answer.get_start_url()
                contents[message_id] = fill_survey_url(values, url)
        for message in self.filtered(lambda m: m.state != "queued"):
            contents.pop(message.id, None)
        return contents


def fill_survey_url(values, url):
    """``values`` (body, subject, template_data) with the placeholder
    replaced by ``url``."""
    values = dict(values)
    for part in ("body", "subject"):
        if values.get(part):
            values[part] = values[part].replace(SURVEY_PLACEHOLDER, url)
    if values.get("template_data"):
        values["template_data"] = {
            name: value.replace(SURVEY_PLACEHOLDER, url)
            if isinstance(value, str)
            else value
            for name, value in values["template_data"].items()
        }
    return values
