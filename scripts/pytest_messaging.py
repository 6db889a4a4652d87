"""pytest plugin loaded by scripts/test.sh (``-p pytest_messaging``).

pytest-odoo imports ``odoo.tests`` before it turns ``test_enable`` on, so Odoo
logs "ERROR ... Importing test framework, avoid importing from business
modules..." with a full stack on every run. That record is noise under
pytest-odoo; drop exactly that one and nothing else.
"""

import logging


class _DropTestFrameworkImportError(logging.Filter):
    def filter(self, record):
        return not (
            record.levelno == logging.ERROR
            and str(record.msg).startswith("Importing test framework")
        )


logging.getLogger("odoo.tests.common").addFilter(_DropTestFrameworkImportError())
