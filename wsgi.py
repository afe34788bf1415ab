"""What gunicorn serves: `gunicorn wsgi:app`."""
from helpdesk_app import create_app

app = create_app()
