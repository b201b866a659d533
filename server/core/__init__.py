"""What every layer may import, and which imports nothing of ours above it: the errors
(`errors.py`), the one settings class (`config.py`), the model catalog (`catalog.py`), the
Prometheus metrics (`metrics.py`), the wire protocol's messages (`protocol.py`) and an
article as every layer sees it (`documents.py`: `Document`, `Article`, their blocks).

May import: nothing of the server but itself."""
