"""Follow-up questions the articles answer. Imports answer, index, query."""
