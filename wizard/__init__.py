from . import messaging_send_mixin
from . import messaging_composer
from . import messaging_bulk_send_fallback
from . import messaging_bulk_send
from . import messaging_campaign_preview_line
from . import messaging_campaign_preview
from . import messaging_conversation_reply
