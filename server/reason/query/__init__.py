"""A question as asked -> a `Question`: its words, names, the kind of answer it asks
for. Imports only server.reason.text and ground (names and numbers in a text)."""
