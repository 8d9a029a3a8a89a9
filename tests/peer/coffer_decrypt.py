#!/usr/bin/env python3
"""Decrypts an object Coffer encrypted, from docs/encryption.md alone, with Python's
`cryptography` (not Coffer's code): the independent check of the format.

    coffer_decrypt.py NAME KEY_ID=HEX_KEY [KEY_ID=HEX_KEY ...] < stored > plaintext

NAME is the object's full name in the bucket (the tenant's keyPrefix included). Exits 1 with a
message when the object does not open.
"""
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HEADER_LEN = 88
TAG = 16


def decrypt(stored, name, keys):
    header = stored[:HEADER_LEN]
    if len(header) < HEADER_LEN or header[:7] != b"COFFERE":
        raise ValueError("no Coffer header")
    if header[7] != 1 or header[8] != 1:
        raise ValueError(f"version {header[7]}, algorithm {header[8]}: not version 1, AES-256-GCM")
    id_len = header[9]
    (segment,) = struct.unpack(">I", header[12:16])
    (plain_len,) = struct.unpack(">Q", header[16:24])
    salt = header[24:56]
    key_id = header[56:56 + id_len].decode("ascii")
    object_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                      info=b"coffer encryption v1").derive(keys[key_id])
    aead = AESGCM(object_key)
    aad = header + name.encode("utf-8")
    count = max(1, -(-plain_len // segment))
    out = bytearray()
    at = HEADER_LEN
    for index in range(count):
        length = min(segment, plain_len - index * segment) + TAG
        nonce = struct.pack(">Q", index) + b"\x00\x00\x00" + bytes([1 if index == count - 1 else 0])
        out += aead.decrypt(nonce, stored[at:at + length], aad)
        at += length
    if at != len(stored):
        raise ValueError(f"{len(stored) - at} bytes after the last segment")
    return bytes(out)


def main():
    name = sys.argv[1]
    keys = {}
    for pair in sys.argv[2:]:
        key_id, hex_key = pair.split("=", 1)
        keys[key_id] = bytes.fromhex(hex_key)
    try:
        plain = decrypt(sys.stdin.buffer.read(), name, keys)
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        print(f"coffer_decrypt: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    sys.stdout.buffer.write(plain)


if __name__ == "__main__":
    main()
