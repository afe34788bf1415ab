"""Webhook intake: verify, parse, record, answer. Processing happens later, in a job."""
