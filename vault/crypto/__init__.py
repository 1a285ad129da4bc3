"""Cryptographic building blocks: streaming digests (Merkle trees and keys come with the seal and journal issues)."""
