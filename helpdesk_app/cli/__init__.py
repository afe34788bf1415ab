"""The command line: `python -m helpdesk_app plan|run|triage|audit-export|audit-verify`."""
