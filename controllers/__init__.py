from . import main
from . import fast_path
from . import unsubscribe
from . import links
