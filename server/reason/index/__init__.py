"""Articles -> passages (with section and subject), their vectors and the BM25 index;
search. Imports server.reason.query, ingest (through the store's Article) and text."""
