"""The history store: every run and result in a SQL database (SQLite by default, any URL otherwise)."""

from auditor.history.store import History, HistoryError, RunHeader, StoredWaiver, to_url

__all__ = ["History", "HistoryError", "RunHeader", "StoredWaiver", "to_url"]
