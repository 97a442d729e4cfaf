"""The admin's routes: project writes (projects.py) and the inbox (contact.py), one router per
resource, declared on first use (app/api/deferred.py)."""
