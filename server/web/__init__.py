"""The web edge: the FastAPI app and its sockets (`app.py`), the HTTP routes for
asking and articles (`api.py`), lessons (`lessons.py`) and learners (`learners.py`), and
the checks on an uploaded file (`upload.py`).

May import: everything below it (core, storage, reason, lessons, teach, session). Nothing
but `server/__main__.py` and operations imports it."""
