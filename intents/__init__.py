"""FAQ matching: jieba tokens, BM25 candidates, rapidfuzz re-ranking."""
