"""Blob stores: where the bytes of archived objects live (filesystem now; S3 Object Lock in the scale-out issue)."""

from vault.storage.blobstore import BlobNotFound, BlobStore, BlobWriter, StoredBlob

__all__ = ["BlobNotFound", "BlobStore", "BlobWriter", "StoredBlob"]
