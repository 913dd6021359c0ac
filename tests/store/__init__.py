"""Store tier: the contract suite for both stores, repair, the lexical index, FAISS, the store's concurrency."""
