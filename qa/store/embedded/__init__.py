"""The embedded store: one directory of SQLite, FAISS and tantivy files (see ``store.py``).

Modules, each importing only those above it:

- ``schema``: the SQLite database (schema, migrations, manifest, generation, doc_meta filters)
- ``locking``: the reader/writer lock and the read connections
- ``faiss_index``: FAISS index types, options, files and checksums
- ``vectors``: the FAISS mirror of SQLite's vectors
- ``lexical``: the tantivy BM25 index
- ``rows``: the SQL of reads and writes of documents and chunks
- ``repair``: verify and repair
- ``salvage``: the readable rows of a damaged SQLite file copied into a new one
- ``health``: damage in the SQLite file, found by the check after open or by a read
- ``disk_full``: what a full disk means for a write and for the FAISS file
- ``stats``: counts and sizes of what the index holds
- ``store``: ``EmbeddedStore``, the facade
"""

from qa.store.embedded.faiss_index import IndexOptions, index_options
from qa.store.embedded.schema import DB_FILE
from qa.store.embedded.store import EmbeddedStore
from qa.store.embedded.vectors import FAISS_FILE, FAISS_META

__all__ = ["DB_FILE", "FAISS_FILE", "FAISS_META", "EmbeddedStore", "IndexOptions", "index_options"]
