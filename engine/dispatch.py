"""Dispatch of the outbound queue: one run of a dispatcher.

A run (``messaging.message._process_queue``, the cron's) recovers rows left
in ``sending``, settles timeouts, then claims batches (``engine/claim.py``)
and sends each in groups of one channel: a group is marked ``sending`` and
committed, its requests go out in throttle slots (``engine/throttle.py``)
with up to the channel's requests in flight (``engine/inflight.py``), and
its answers are kept together (``engine/results.py``) and committed
(``engine/transaction.py``). E-mails go through Odoo's mail stack
(``engine/emails.py``). Then
the sandbox's receipts, campaign ends, and the cron's next wake-up.
"""

import logging
import time
from datetime import timedelta

from odoo import fields

from ..providers import AUTH, ProviderError
from . import (
    claim,
    emails,
    inflight,
    outbound,
    receipts,
    rendering,
    results,
    throttle,
    transaction,
)

_logger = logging.getLogger(__name__)

# a group marked "sending" stops calling its provider after this long
GROUP_SECONDS = claim.CLAIM_SECONDS / 4
PREFETCH_ROWS = 20
CRON_XMLID = "multichannel_messaging.ir_cron_messaging_process_queue"


def process_queue(env, time_limit=None, batch_size=claim.BATCH_SIZE):
    """Send every due queued message; returns the number of messages
    handed to a provider or settled (``_process_queue``).

    Works in batches until nothing is due or ``time_limit`` seconds passed;
    then re-triggers the cron if work remains.
    """
    auto_commit = transaction.auto_commit()
    deadline = time.monotonic() + time_limit if time_limit else None
    if auto_commit:
        transaction.commit(env)
    emails.settle_stale(env)
    claim.recover_stale_sending(env)
    if auto_commit:
        transaction.commit(env, read_committed=False)
    results.process_delivery_timeouts(env)
    results.process_unknown_waits(env)
    try:
        done = dispatch_due(env, batch_size, auto_commit, deadline)
    finally:
        # the run's request threads end, its connections close
        inflight.close_pools()
    if auto_commit:
        transaction.commit(env)
    receipts.process_receipts(env)
    env["messaging.campaign"]._check_campaigns_done()
    trigger_next_due(env)
    if auto_commit:
        # settle receipts and campaign states
        transaction.commit(env, read_committed=False)
    return done


def dispatch_due(env, batch_size, auto_commit, deadline):
    """Claim and send batches until none is due or ``deadline`` passed.
    The last group of a batch may stay in flight while the next batch is
    claimed and prepared (see ``send_group``)."""
    done, in_flight = 0, None
    while True:
        if auto_commit:
            transaction.commit(env)
        batch = claim.claim_batch(env, limit=batch_size)
        if auto_commit:
            # the lease must be visible to other workers; sending runs in
            # READ COMMITTED too (see send_group)
            transaction.commit(env)
        if not batch and in_flight:
            # its answers may queue more (fallbacks): claim again after
            done += finish_group(env, in_flight, {}, auto_commit)
            in_flight = None
            continue
        if not batch:
            break
        in_flight, sent = dispatch_batch(batch, auto_commit, deadline, in_flight)
        done += sent
        if deadline is not None and time.monotonic() > deadline:
            retrigger_cron(env)
            break
    return done + finish_group(env, in_flight, {}, auto_commit)


def dispatch(messages, auto_commit=True, deadline=None):
    """Send a claimed batch, in groups of one channel.

    A group is marked ``sending`` in one commit, sent with its requests
    in flight together, and its results committed. The group size is
    that of ``messaging.channel._get_group_size``; on an unthrottled
    channel the next group is started while the answers of the previous
    one come in (see ``send_group``).
    """
    in_flight, done = dispatch_batch(messages, auto_commit, deadline)
    return done + finish_group(messages.env, in_flight, {}, auto_commit)


def dispatch_batch(messages, auto_commit, deadline, in_flight=None):
    """``dispatch``, its last group left in flight: returns ``(group in
    flight or None, messages settled)``. ``in_flight``: a group of the
    previous batch, settled on the way."""
    env = messages.env
    adapters = {}
    done = 0
    rendering.prepare_lazy_content(messages)
    group = []
    for index, message in enumerate(messages):
        if deadline is not None and time.monotonic() > deadline:
            # give the rest back at once rather than at lease expiry
            claim.release(messages.browse(messages.ids[index:]))
            break
        # fetch a few rows at a time: commits clear the cache, and
        # refetching the whole batch after each one would dominate
        message = message.with_prefetch(messages.ids[index : index + PREFETCH_ROWS])
        if message.state != "queued" or not throttle.may_send_now(message):
            continue
        channel = message.channel_id
        if group and (
            group[0].channel_id != channel or len(group) >= channel._get_group_size()
        ):
            in_flight, sent = send_group(env, group, adapters, auto_commit, in_flight)
            done += sent
            group = []
        group.append(message)
    if group:
        in_flight, sent = send_group(env, group, adapters, auto_commit, in_flight)
        done += sent
    return in_flight, done


def send_group(env, group, adapters, auto_commit, in_flight=None):
    """Start the requests of ``group`` (messages of one channel), then
    keep the answers of ``in_flight``, the group started before it.
    Returns ``(the group now in flight or None, messages settled)``.

    A group is marked ``sending`` in one commit before its requests go
    out (up to the channel's requests in flight, ``engine/inflight.py``);
    its answers are committed together once the last one is in. On an
    unthrottled channel a group stays in flight while the next one is
    started, so that the dispatcher's database work overlaps the
    provider's latency: two groups, at most ``max_in_flight`` rows in
    ``sending`` (``messaging.channel._get_group_size``).

    Every transaction here runs in READ COMMITTED: the rows are ours by
    their lease, and a second update of a row in one transaction makes
    PostgreSQL check its foreign keys again (``FOR KEY SHARE`` of the
    channel row, which other workers' throttle bookings keep updating):
    under REPEATABLE READ that fails to serialize.
    """
    channel = group[0].channel_id
    if not channel.is_configured:
        done = finish_group(env, in_flight, adapters, auto_commit)
        return None, done + fail_not_configured(env, group, auto_commit)
    if channel.channel_type == "email":
        done = finish_group(env, in_flight, adapters, auto_commit)
        return None, done + emails.send_email_group(env, group, auto_commit)
    started = start_group(env, group, adapters, auto_commit)
    done = finish_group(env, in_flight, adapters, auto_commit)
    if not channel._overlaps_groups():
        done += finish_group(env, started, adapters, auto_commit)
        started = None
    return started, done


def fail_not_configured(env, group, auto_commit):
    """A channel without its credentials is never called: its messages fail
    at once (the next fallback step takes them over)."""
    channel = group[0].channel_id
    messages = env["messaging.message"].browse([m.id for m in group])
    text = channel._get_not_configured_text()
    for message in messages:
        message._set_failed("not_configured", text)
    if auto_commit:
        transaction.commit(env)
    return len(messages)


def start_group(env, group, adapters, auto_commit):
    """Mark the group ``sending`` (committed) and start its requests;
    returns ``(channel, adapter, [(message, future)])``."""
    channel = group[0].channel_id
    ids = [m.id for m in group]
    Message = env["messaging.message"]
    # state "sending" is committed before the call: a crash after this point
    # leaves evidence and the rows will not be resent blindly
    owned = set(claim.mark_sending(Message.browse(ids)).ids)
    if auto_commit:
        transaction.commit(env)
    owned_ids = [i for i in ids if i in owned]
    messages = Message.browse(owned_ids).with_prefetch(owned_ids)
    pool = inflight.get_pool(channel._get_max_in_flight())
    adapter = get_pooled_adapter(channel, adapters, pool)
    return channel, adapter, start_calls(messages, channel, adapter, pool)


def finish_group(env, in_flight, adapters, auto_commit):
    """Wait for the answers of a started group and commit them; returns
    the number of messages handed to the provider."""
    if not in_flight:
        return 0
    channel, adapter, calls = in_flight
    answers = [(message, future.result()) for message, future in calls]
    answers = retry_token_errors(channel, adapter, answers, adapters)
    results.apply_results(env, answers)
    if auto_commit:
        # the provider's answers are kept at once; losing this commit to a
        # server crash leaves rows in "sending", never a duplicate
        transaction.commit(env, durable=False)
    # a request whose slot was missed was never sent: it is queued again
    # (and counted when it is sent), not settled
    return sum(1 for _m, result in answers if result.reason != inflight.LATE_REASON)


def start_calls(messages, channel, adapter, pool):
    """Start one request per message, or per set of messages of the same
    content where the provider takes several recipients in one request
    (``adapter.max_recipients``), each in its throttle slot (booked here,
    in this thread, on the channel row all workers share).
    Returns ``(message, future)`` pairs."""
    throttled = throttle.has_throttle(channel) and transaction.auto_commit()
    max_wait = throttle.max_slot_wait(messages.env) if throttled else 0.0
    started = time.monotonic()
    calls = []
    for unit in request_units(messages, channel, adapter):
        if calls and time.monotonic() - started > GROUP_SECONDS:
            # slow throttle: the rest goes back to the queue, never
            # called, long before its lease could run out unanswered
            reschedule_unit(unit, fields.Datetime.now(), "throttle")
            continue
        if channel._is_paused():
            # quota reached by an earlier group
            reschedule_unit(unit, channel.paused_until, "quota")
            continue
        retry_at, code = throttle.wait_for_slot_why(channel, max_wait, len(unit))
        if retry_at:
            reschedule_unit(unit, retry_at, code)
            continue
        # on time now; its thread must not start much later (see submit)
        send_by = time.monotonic() + throttle.LATE_SEND_SECONDS if throttled else None
        if len(unit) == 1:
            ((message, request),) = unit
            calls.append((message, pool.submit(adapter, request, send_by)))
        else:
            shares = pool.submit_many(adapter, [r for _m, r in unit], send_by)
            calls.extend(zip([m for m, _r in unit], shares, strict=True))
    return calls


def request_units(messages, channel, adapter):
    """The requests of ``messages``: lists of ``(message, outbound)``, one
    message each, or up to ``adapter.max_recipients`` messages of the same
    content to distinct recipients (never more than the channel's daily
    cap, which a request counts whole)."""
    size = adapter.max_recipients
    if channel.daily_cap:
        size = min(size, channel.daily_cap)
    units, open_units = [], {}
    for message in messages:
        request = outbound.prepare_outbound(message)
        key = adapter.group_key(request) if size > 1 else None
        unit = open_units.get(key) if key is not None else None
        if (
            unit is None
            or len(unit) >= size
            or request.phone in {r.phone for _m, r in unit}
        ):
            unit = []
            units.append(unit)
            if key is not None:
                open_units[key] = unit
        unit.append((message, request))
    return units


def reschedule_unit(unit, when, code):
    for message, _request in unit:
        claim.reschedule(message, when, count_attempt=False, code=code)


def get_pooled_adapter(channel, adapters, pool, **overrides):
    """The channel's adapter on the pool's HTTP session, kept in
    ``adapters`` for the batch; ``overrides`` make a new one."""
    key = (channel.id, pool.size)
    if overrides or key not in adapters:
        adapters[key] = channel._get_adapter(session=pool.session, **overrides)
    return adapters[key]


def retry_token_errors(channel, adapter, answers, adapters):
    """Zalo requests refused for an expired token (the one ``adapter``
    sent): the token is refreshed once for all of them (or taken as an
    earlier group or another worker refreshed it since), then each is
    sent once more. ``answers``: ``(message, result)`` pairs."""
    expired = [
        index
        for index, (_message, result) in enumerate(answers)
        if result.status == AUTH and result.reason == "token"
    ]
    if not expired or channel.channel_type != "zalo":
        return answers
    try:
        token = channel._refresh_zalo_token(
            known_token=adapter.config.get("zalo_access_token")
        )
    except ProviderError as exc:
        _logger.warning("Zalo token refresh failed for channel %s", channel.id)
        for index in expired:
            result = answers[index][1]
            result.message = "%s (%s)" % (result.message, exc)
        return answers
    pool = inflight.get_pool(channel._get_max_in_flight())
    adapter = get_pooled_adapter(channel, adapters, pool, zalo_access_token=token)
    retries = [
        (index, pool.submit(adapter, outbound.prepare_outbound(answers[index][0])))
        for index in expired
    ]
    answers = list(answers)
    for index, future in retries:
        answers[index] = (answers[index][0], future.result())
    return answers


def retrigger_cron(env, at=None):
    """Wake the queue's cron (now, or at ``at``)."""
    cron = env.ref(CRON_XMLID, raise_if_not_found=False)
    if cron:
        cron.sudo()._trigger(at=at)


def trigger_next_due(env):
    """Wake the cron when the next queued message is due (within a day)."""
    nxt = env["messaging.message"].search(
        [("state", "=", "queued"), ("scheduled_at", ">", fields.Datetime.now())],
        order="scheduled_at",
        limit=1,
    )
    if nxt and nxt.scheduled_at < fields.Datetime.now() + timedelta(days=1):
        retrigger_cron(env, at=nxt.scheduled_at)
