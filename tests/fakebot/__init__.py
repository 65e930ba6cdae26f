"""A local fake of the Telegram Bot API for end-to-end tests.

Point a real python-telegram-bot ``Application``/``Bot`` at :class:`FakeBotAPI` via
``base_url``/``base_file_url`` and drive it with simulated users. Nothing ever leaves
127.0.0.1.
"""

from .server import (
    Call,
    FakeBotAPI,
    SentMessage,
    UploadedFile,
    WebhookDelivery,
)

__all__ = ["Call", "FakeBotAPI", "SentMessage", "UploadedFile", "WebhookDelivery"]
