"""Adapters that implement the ports of `workflows.ports` against the real upstreams."""
