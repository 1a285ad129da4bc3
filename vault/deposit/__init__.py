"""The deposit use case: validate, stream to the blob store, record with its journal entry, answer the receipt."""
