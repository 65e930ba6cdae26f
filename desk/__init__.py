"""The service desk itself, independent of any channel.

Owns intake, the ticket state machine, registration, permissions, deadlines, notifications into
the outbox and the outbox bookkeeping. Imports ``models`` and ``nlp``; never Telegram or aiohttp.
Public functions are keyword-only and take a ``DeskConfig`` and an ``Actor`` explicitly.
"""
