"""Where things are kept: the database behind SQLite or Postgres (`database.py`), the
store of articles, sessions and turns (`store.py`), a throwaway Postgres for tests and the
cluster (`pgserver.py`), the library that adds and removes articles (`library.py`) and
the background upload jobs (`jobs.py`).

May import: core, and reason's ingestion (a file is read into a `Document` before it is
stored). Never the session, the lessons or the web edge."""
