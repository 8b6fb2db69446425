"""One module per input format, each yielding :class:`apibehave.ingest.chunks.Chunk`."""
