"""The baseline of bench/webhook_intake.py: one endpoint answering 204, nothing else.

Served by the same gunicorn command line as the service (bench/serve.py,
`gunicorn_command`); it reads the request body, as any endpoint must, and does nothing
with it.
"""
from flask import Flask, request

app = Flask(__name__)


@app.route("/", methods=["GET", "POST"])
@app.route("/webhooks/zendesk", methods=["POST"])
def bare():
    request.get_data()
    return "", 204
