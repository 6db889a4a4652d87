"""Queue dispatchers in processes of their own, for tests/test_queue_processes.py.

Not a test module (pytest and Odoo's loader only collect ``test_*.py``): the
tests run it with ``sys.executable`` so that several real Odoo processes,
each with its own database connection and transactions, claim and send the
same queue at once with real commits, the way several cron workers or servers
do. A dispatcher calls ``messaging.message._process_queue()``; its process is
not a test thread (no ``testing`` attribute), so the queue commits as in
production.

Fork server (what the tests use)::

    python queue_worker.py --config odoo.conf --database db --serve

loads the registry of ``--database`` once, with the settings of ``--config``
(the addons path of the test run), closes its database connections, prints
``ZYGOTE READY {...}`` and reads commands on stdin, one per line:

* ``SPAWN <id> {"options": [...], "log": path}``: fork a dispatcher (it
  inherits the loaded registry and opens its own connections), stderr to
  ``log``; answers ``<id> SPAWNED {"pid": n}``;
* ``GO <id>``: hand one line to that dispatcher (see ``READY``/``PAUSED``);
* ``KILL <id>``: kill that dispatcher if it is still running;
* EOF: kill the dispatchers still running, exit.

It reports ``<id> EXIT {"rc": n}`` when a dispatcher ends. Loading a registry
takes seconds; forking a loaded one takes milliseconds.

A single dispatcher without the fork server (by hand)::

    python queue_worker.py --config odoo.conf --database db [options]

Dispatcher options (its lines are ``<id> TAG {json}`` on stdout):

``READY``: printed once the dispatcher exists; it waits for one ``GO`` so
that the test starts several at the same moment.

``--batch-size n``: ``_process_queue(batch_size=n)``.

``--pause-before step``: just before the first time ``_process_queue``
reaches ``step`` (``recovery`` of rows left in ``sending``, ``claim`` of a
batch, ``mark_sending`` of a group: functions of ``engine/claim.py``;
``campaigns_done`` check), run a first
query in the current transaction (under REPEATABLE READ that takes its
snapshot), print
``PAUSED`` and wait for one ``GO``: meanwhile the test lets another
dispatcher work, as happens when two cron runs overlap.

``--crash point``: harness only, patched in this process alone. On the first
message this process hands to a provider, it dies with ``os._exit(17)`` (no
rollback, no ``finally``, like a killed worker):

* ``before_call``: ``sending`` is committed, the provider is not called;
* ``after_call``: the provider accepted the message, nothing committed since;
* ``after_commit``: right after the provider's answer was committed.
* ``db_lost``: the provider accepted the message, then PostgreSQL ends the
  dispatcher's connection (``pg_terminate_backend`` from another connection:
  what the dispatcher sees when the server is stopped with ``-m immediate``
  or restarted). The process does not die on its own: it goes on and meets
  the dead connection wherever the queue uses it next; it prints
  ``DB_LOST {"tracking_id": ..., "backend_pid": n}`` first.

Just before dying it prints ``CRASH {"point": ..., "tracking_id": ...}``; a
normal run ends with ``RESULT {"done": n, ...}``.
"""

import argparse
import importlib
import json
import os
import select
import signal
import sys
import time
import traceback

CRASH_EXIT_CODE = 17
MODULE = "multichannel_messaging"
CRASH_POINTS = ("before_call", "after_call", "after_commit", "db_lost")
# step -> (a model, or a module of the addon's engine/, and its function)
PAUSE_STEPS = {
    "recovery": ("engine.claim", "recover_stale_sending"),
    "claim": ("engine.claim", "claim_batch"),
    "mark_sending": ("engine.claim", "mark_sending"),
    "campaigns_done": ("messaging.campaign", "_check_campaigns_done"),
}


def _write_line(text):
    # one write() of less than PIPE_BUF bytes: lines of several processes
    # sharing the pipe never interleave
    os.write(1, (text + "\n").encode())


class Dispatcher:
    """One dispatcher: its id, its control input, its options."""

    def __init__(self, wid, control_fd, options):
        self.wid = wid
        self.control_fd = control_fd
        parser = argparse.ArgumentParser(prog="dispatcher")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--pause-before", choices=sorted(PAUSE_STEPS))
        parser.add_argument("--crash", choices=CRASH_POINTS)
        self.args = parser.parse_args(options)
        self.called = None  # tracking id of the first message sent
        self.cursor = None  # the dispatching cursor (for ``db_lost``)
        self.registry = None

    def emit(self, tag, **payload):
        _write_line("%s %s %s" % (self.wid, tag, json.dumps(payload)))

    def wait_go(self):
        data = b""
        while not data.endswith(b"\n"):
            chunk = os.read(self.control_fd, 1)
            if not chunk:
                raise SystemExit("control input closed")
            data += chunk

    def die(self, point, **info):
        self.emit("CRASH", point=point, pid=os.getpid(), **info)
        sys.stderr.flush()
        os._exit(CRASH_EXIT_CODE)  # pylint: disable=protected-access

    def install_crash(self):
        """Make this process die at ``point`` on the first message it sends.

        Hooks the provider adapters' ``send`` (whatever the queue method
        that calls them) and, for ``after_commit``, the dispatcher cursor's
        ``commit``: the first commit after a provider call is the one that
        keeps the provider's answer."""
        point, die = self.args.crash, self.die
        providers = importlib.import_module("odoo.addons.%s.providers" % MODULE)
        for adapter_class in set(providers.ADAPTERS.values()):

            def send(adapter, msg, _original=adapter_class.send):
                if point == "before_call":
                    die(point, tracking_id=msg.tracking_id)
                result = _original(adapter, msg)
                if point == "after_call":
                    die(point, tracking_id=msg.tracking_id, status=result.status)
                if point == "db_lost" and not self.called:
                    self.cut_database(msg.tracking_id, result.status)
                self.called = self.called or msg.tracking_id
                return result

            adapter_class.send = send

    def cut_database(self, tracking_id, status):
        """End the dispatching cursor's server process, from another
        connection, as a stopped or restarted PostgreSQL does."""
        backend_pid = self.cursor.connection.get_backend_pid()
        with self.registry.cursor() as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
            if not killer.fetchone()[0]:
                raise RuntimeError("backend %s was not terminated" % backend_pid)
        self.emit(
            "DB_LOST", tracking_id=tracking_id, status=status, backend_pid=backend_pid
        )

    def hook_commit(self, cr):
        original = cr.commit

        def commit():
            result = original()
            if self.called:
                self.die(self.args.crash, tracking_id=self.called)
            return result

        cr.commit = commit

    def install_pause(self, registry):
        from odoo import api  # noqa: PLC0415

        step = self.args.pause_before
        owner_name, function_name = PAUSE_STEPS[step]
        if owner_name.startswith("engine."):
            owner = importlib.import_module("odoo.addons.%s.%s" % (MODULE, owner_name))
        else:
            owner = registry[owner_name]
        original = getattr(owner, function_name)
        paused = []

        def function(first, *args, **kwargs):
            # ``first``: an environment or records (engine), or records (model)
            if not paused:
                paused.append(step)
                env = first if isinstance(first, api.Environment) else first.env
                # REPEATABLE READ: the snapshot is taken by the first query
                env.cr.execute("SELECT 1")
                self.emit("PAUSED", before=step)
                self.wait_go()
            return original(first, *args, **kwargs)

        setattr(owner, function_name, function)

    def run(self, registry):
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415

        if self.args.crash:
            self.install_crash()
        if self.args.pause_before:
            self.install_pause(registry)
        self.emit("READY", pid=os.getpid())
        self.wait_go()
        started = time.time()
        kwargs = {"batch_size": self.args.batch_size} if self.args.batch_size else {}
        self.registry = registry
        with registry.cursor() as cr:
            self.cursor = cr
            if self.args.crash == "after_commit":
                self.hook_commit(cr)
            env = api.Environment(cr, SUPERUSER_ID, {})
            done = env["messaging.message"]._process_queue(**kwargs)
        self.emit(
            "RESULT", done=done, pid=os.getpid(), started=started, ended=time.time()
        )


def _load_registry(config_path, database, log_level):
    import odoo  # noqa: PLC0415  (after argparse: --help stays fast)

    odoo.tools.config.parse_config(
        [
            "-c",
            config_path,
            "-d",
            database,
            "--log-level=%s" % log_level,
            "--max-cron-threads=0",
        ]
    )
    return odoo.modules.registry.Registry(database)


class ForkServer:
    """Forks dispatchers from a process that loaded the registry once."""

    def __init__(self, registry):
        self.registry = registry
        self.children = {}  # wid -> (pid, control write fd)

    def spawn(self, wid, spec):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the dispatcher
            code = 1
            try:
                os.close(write_fd)
                for _pid, other_fd in self.children.values():
                    os.close(other_fd)
                log_fd = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(log_fd, 2)
                os.dup2(read_fd, 0)  # never read the fork server's commands
                Dispatcher(wid, read_fd, spec["options"]).run(self.registry)
                code = 0
            except BaseException:  # noqa: BLE001  # pylint: disable=broad-except
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)  # pylint: disable=protected-access
        os.close(read_fd)
        self.children[wid] = (pid, write_fd)
        _write_line("%s SPAWNED %s" % (wid, json.dumps({"pid": pid})))

    def reap(self):
        for wid, (pid, write_fd) in list(self.children.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                os.close(write_fd)
                del self.children[wid]
                rc = os.waitstatus_to_exitcode(status)
                _write_line("%s EXIT %s" % (wid, json.dumps({"rc": rc})))

    def command(self, line):
        verb, wid, payload = (line.split(" ", 2) + ["", ""])[:3]
        if verb == "SPAWN":
            self.spawn(wid, json.loads(payload))
        elif verb == "GO":
            os.write(self.children[wid][1], b"go\n")
        elif verb == "KILL":
            if wid in self.children:  # not reaped: the pid is still ours
                os.kill(self.children[wid][0], signal.SIGKILL)
        else:
            raise ValueError("unknown command %r" % line)

    def serve(self):
        import odoo  # noqa: PLC0415

        # the dispatchers open their own connections
        odoo.sql_db.close_all()
        _write_line("ZYGOTE READY %s" % json.dumps({"pid": os.getpid()}))
        pending = b""
        while True:
            self.reap()
            ready, _w, _x = select.select([0], [], [], 0.02)
            if not ready:
                continue
            data = os.read(0, 65536)
            if not data:
                break
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self.command(line.decode())
        for pid, _fd in self.children.values():
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--log-level", default="warn")
    parser.add_argument("--serve", action="store_true", help="fork server")
    args, options = parser.parse_known_args(argv)
    registry = _load_registry(args.config, args.database, args.log_level)
    if args.serve:
        ForkServer(registry).serve()
    else:
        Dispatcher("worker", 0, options).run(registry)


if __name__ == "__main__":
    main()
