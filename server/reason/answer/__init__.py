"""A question and its hits -> the coverage decision, the answer sentences, their checks
and citations, the streamed answer and its trace. Imports index, query and text;
never suggest."""
