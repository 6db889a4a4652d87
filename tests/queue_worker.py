"""A queue dispatcher in a process of its own, for tests/test_queue_processes.py.

Not a test module (pytest and Odoo's loader only collect ``test_*.py``): the
tests start it with ``sys.executable`` so that several real Odoo processes
claim and send the same queue at once, with real commits, the way several
cron workers or servers do::

    python queue_worker.py --config odoo.conf --database db [--wait-go]
                           [--crash before_call|after_call|after_commit]

It loads the registry of ``--database`` with the settings of ``--config`` (the
addons path of the test run) and calls ``messaging.message._process_queue()``.
The process is not a test thread (no ``testing`` attribute), so the queue
commits as in production.

``--wait-go``: print ``READY`` once the registry is loaded and wait for one
line on stdin, so that the test starts all its workers at the same moment.

``--crash``: harness only, patched in this process alone. On the first
message this process hands to a provider, it dies with ``os._exit(17)``
(no rollback, no ``finally``, like a killed worker):

* ``before_call``: ``sending`` is committed, the provider is not called;
* ``after_call``: the provider accepted the message, nothing committed since;
* ``after_commit``: right after the provider's answer was committed.

Just before dying it prints ``CRASH {"point": ..., "tracking_id": ...,
"message_id": ...}``; a normal run ends with ``RESULT {"done": n, ...}``.
"""

import argparse
import importlib
import json
import os
import sys
import time

CRASH_EXIT_CODE = 17
MODULE = "multichannel_messaging"


def _emit(tag, payload):
    sys.stdout.write("%s %s\n" % (tag, json.dumps(payload)))
    sys.stdout.flush()


def _die(point, **info):
    _emit("CRASH", dict(info, point=point, pid=os.getpid()))
    sys.stderr.flush()
    os._exit(CRASH_EXIT_CODE)  # pylint: disable=protected-access


def _install_crash(point, registry):
    """Make this process die at ``point`` on the first message it sends."""
    providers = importlib.import_module("odoo.addons.%s.providers" % MODULE)
    if point in ("before_call", "after_call"):
        for adapter_class in set(providers.ADAPTERS.values()):
            original = adapter_class.send

            def send(self, msg, _original=original):
                if point == "before_call":
                    _die(point, tracking_id=msg.tracking_id)
                result = _original(self, msg)
                _die(point, tracking_id=msg.tracking_id, status=result.status)
                return result  # never reached

            adapter_class.send = send
    elif point == "after_commit":
        message_class = registry["messaging.message"]
        original = message_class._send_one

        def _send_one(self, adapters, auto_commit=True):
            original(self, adapters, auto_commit=auto_commit)
            # _send_one's last step is the commit of the provider's answer
            _die(point, tracking_id=self.tracking_id, message_id=self.id)

        message_class._send_one = _send_one
    else:
        raise ValueError("unknown crash point %r" % point)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--log-level", default="warn")
    parser.add_argument("--wait-go", action="store_true")
    parser.add_argument(
        "--crash", choices=("before_call", "after_call", "after_commit")
    )
    args = parser.parse_args(argv)

    import odoo  # noqa: PLC0415  (after argparse: --help stays fast)
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    odoo.tools.config.parse_config(
        [
            "-c",
            args.config,
            "-d",
            args.database,
            "--log-level=%s" % args.log_level,
            "--max-cron-threads=0",
        ]
    )
    registry = odoo.modules.registry.Registry(args.database)
    if args.crash:
        _install_crash(args.crash, registry)
    if args.wait_go:
        _emit("READY", {"pid": os.getpid()})
        sys.stdin.readline()
    started = time.time()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        done = env["messaging.message"]._process_queue()
    _emit(
        "RESULT",
        {"done": done, "pid": os.getpid(), "started": started, "ended": time.time()},
    )


if __name__ == "__main__":
    main()
