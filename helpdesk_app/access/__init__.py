"""Who may do what: agents (their Zendesk role and groups, cached) and the workflow policy."""
