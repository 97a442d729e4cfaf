"""Serving without the database: the published snapshot, the contact outbox, the read budget."""
