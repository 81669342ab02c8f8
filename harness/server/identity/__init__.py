"""A small Care Identity Service: applications (ASIDs, API keys), users, roles and sessions."""
