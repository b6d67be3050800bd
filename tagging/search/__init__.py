"""Finding products: by photo (FAISS neighbours, ``visual``), by words (BM25 ``keyword``,
MiniLM ``semantic``) and both word lists fused by reciprocal rank (``fusion``)."""
