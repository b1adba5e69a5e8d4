"""The HTTP server of `python -m xmodal.serve`: thin FastAPI routes over `xmodal.search.queries.Searcher`."""
