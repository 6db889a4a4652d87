"""pytest plugin loaded by scripts/test.sh (``-p pytest_messaging``).

pytest-odoo imports ``odoo.tests`` before it turns ``test_enable`` on, so Odoo
logs "ERROR ... Importing test framework, avoid importing from business
modules..." with a full stack on every run. That record is noise under
pytest-odoo; drop exactly that one and nothing else.

It also calls the addon's ``post_load`` once the registry is loaded (see
``messaging_post_load``), and names the running test as Odoo's own runner
does (``pytest_runtest_setup``).
"""

import logging

import pytest


class _DropTestFrameworkImportError(logging.Filter):
    def filter(self, record):
        return not (
            record.levelno == logging.ERROR
            and str(record.msg).startswith("Importing test framework")
        )


logging.getLogger("odoo.tests.common").addFilter(_DropTestFrameworkImportError())


@pytest.fixture(scope="session", autouse=True)
def messaging_post_load(load_registry):  # pylint: disable=unused-argument
    """Odoo calls a module's ``post_load`` when it imports the module while
    loading a registry, but only if nothing imported it before; pytest
    imports the addon (through its tests) before pytest-odoo loads the
    registry, so call it here, as Odoo would (it installs the speed
    machinery, README "Speed machinery")."""
    # pylint: disable=import-outside-toplevel
    from odoo.modules.module import get_manifest

    import odoo.addons.multichannel_messaging as addon

    getattr(addon, get_manifest("multichannel_messaging")["post_load"])()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Odoo 18's own test runner names the running test in
    ``odoo.modules.module.current_test`` (``odoo/tests/suite.py``); Odoo's
    code reads it to stay off the network in tests (``ir.mail_server``
    neither connects nor sends, websockets are refused). pytest-odoo does
    it only from Odoo 19 on: do it here, before the class is set up."""
    # pylint: disable=import-outside-toplevel
    from odoo.modules import module
    from odoo.tests import BaseCase

    instance = getattr(item, "instance", None)
    if isinstance(instance, BaseCase):
        module.current_test = instance
