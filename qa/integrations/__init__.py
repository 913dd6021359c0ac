"""Retrievers for other frameworks over qa's HTTP API (``/v1/search``, through ``qa.client``), each
an optional extra: ``langchain`` (``pip install 'qa[langchain]'``) and ``llamaindex``
(``pip install 'qa[llamaindex]'``). Every passage they return carries its citation offsets:
``doc_id``, ``start``, ``end`` and ``page`` (with ``title`` and ``score``) in its metadata, so
``text == document text[start:end]`` holds downstream too."""
