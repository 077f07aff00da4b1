"""Storage: the database engine, the tables, their Alembic migrations, the audit chain.

Also the single-use challenges kept in the database and output files written atomically. SQLite
(WAL) embedded or PostgreSQL, chosen by the URL; the same migrations serve both.
"""
