"""What is kept: the database models, the audit trail, the SQLite writer line, migrations."""
