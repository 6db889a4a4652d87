import logging

from . import models
from . import controllers
from . import wizard
from . import sql_pool

_logger = logging.getLogger(__name__)


def post_load():
    """Install the speed machinery (README, "Speed machinery"), once per
    process, when Odoo loads the addon: the WSGI fast path for Zalo webhook
    calls and the summarised access log of webhook calls
    (``controllers/fast_path.py``), and the autocommit connection pool
    (``sql_pool.py``). Each acts only for databases with this addon.
    ``messaging_fast_path = False`` in the ``[options]`` of odoo.conf leaves
    all of it out: Odoo's own request stack, access log and cursors."""
    if not sql_pool.option_on(sql_pool.SWITCH_OPTION):
        _logger.info(
            "Speed machinery off (%s = False): webhooks go through Odoo's stack",
            sql_pool.SWITCH_OPTION,
        )
        return
    sql_pool.install()
    controllers.fast_path.install()
