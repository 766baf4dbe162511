"""The batch computation on pandas: whole-file, chunked (bounded memory), and Modin (the same code on Ray)."""
