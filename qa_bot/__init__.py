"""Russian question answering over a document collection.

Pipeline, one module per stage: ingest → chunk → embed → store/lexical → index → retrieve →
answer (llm/, extractive, citations), then the front ends: cli, telegram/, and evaluation/.
"""

__version__ = "0.1.0"
