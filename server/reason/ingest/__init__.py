"""Files -> articles: Markdown, HTML and plain text read into blocks (headings, prose,
list items, table rows) and the article's details. Imports only
server.reason.text and server.core.errors."""
