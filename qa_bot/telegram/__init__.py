"""The Telegram front end: a python-telegram-bot v22 Application answering from the Pipeline."""

from .app import build_application, check_token, run_bot

__all__ = ["build_application", "check_token", "run_bot"]
