"""Request authentication for the HTTP edge: pure functions, no Flask, no database."""
