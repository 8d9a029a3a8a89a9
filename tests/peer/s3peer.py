#!/usr/bin/env python3
"""An independent S3 client (boto3) for the cross-checks of Coffer's suite.

    s3peer.py put KEY FILE      store FILE's bytes under KEY
    s3peer.py put-ALGO KEY FILE the same, with the checksum ALGO (CRC32, CRC32C, CRC64NVME,
                                SHA1, SHA256; CRC32C and CRC64NVME need awscrt)
    s3peer.py checksums KEY -   print the object's checksum fields (HEAD, checksum mode on)
    s3peer.py list PREFIX -     print the keys under PREFIX, one a line (every page)
    s3peer.py get KEY FILE      write the object KEY to FILE; exit 3 when it does not exist
    s3peer.py stalwart-name HEX -   print Stalwart's object name for the key bytes HEX
    s3peer.py uploads PREFIX -  print how many multipart uploads under PREFIX are in progress

The server comes from COFFER_PEER_ENDPOINT, _REGION, _BUCKET, _ACCESS_KEY, _SECRET_KEY.
Path-style addressing, as Coffer uses.
"""
import base64
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client():
    env = os.environ
    return boto3.client(
        "s3",
        endpoint_url=env["COFFER_PEER_ENDPOINT"],
        region_name=env["COFFER_PEER_REGION"],
        aws_access_key_id=env["COFFER_PEER_ACCESS_KEY"],
        aws_secret_access_key=env["COFFER_PEER_SECRET_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                      request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"),
    )


def stalwart_name(key_bytes):
    """Stalwart's name for a blob: RFC 4648 base32 without padding, in Stalwart's alphabet."""
    rfc = base64.b32encode(key_bytes).decode().rstrip("=")
    return rfc.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
                                       "abcdefghijklmnopqrstuvwxyz792013"))


def main():
    op, key, path = sys.argv[1:4]
    if op == "stalwart-name":
        print(stalwart_name(bytes.fromhex(key)))
        return 0
    bucket = os.environ["COFFER_PEER_BUCKET"]
    s3 = client()
    if op == "put":
        with open(path, "rb") as f:
            s3.put_object(Bucket=bucket, Key=key, Body=f.read())
    elif op.startswith("put-"):
        with open(path, "rb") as f:
            s3.put_object(Bucket=bucket, Key=key, Body=f.read(), ChecksumAlgorithm=op[4:])
    elif op == "checksums":
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        print(" ".join(f"{k}={v}" for k, v in sorted(head.items()) if k.startswith("Checksum")))
    elif op == "get":
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as e:
            if e.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return 3
            raise
        with open(path, "wb") as f:
            f.write(body)
    elif op == "list":
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
            for obj in page.get("Contents", []):
                print(obj["Key"])
    elif op == "uploads":
        listed = s3.list_multipart_uploads(Bucket=bucket, Prefix=key)
        print(len(listed.get("Uploads", [])))
    else:
        print(f"s3peer: unknown operation {op}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
