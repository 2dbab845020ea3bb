"""From text to ids: tokenizers and vocabularies, named sources and downloads, the token cache, the
corpus and its splits, training streams.
"""
