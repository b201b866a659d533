"""Reason stage: articles in, grounded answers with sources out."""
