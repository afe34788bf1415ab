import sys

from helpdesk_app.cli.commands import main

sys.exit(main())
