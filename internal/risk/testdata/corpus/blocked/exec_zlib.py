import zlib, base64
blob = "eJwrKMrMK9FQyshXyMnMS1VU0gQAMV8FLA=="
exec(zlib.decompress(base64.b64decode(blob)))
