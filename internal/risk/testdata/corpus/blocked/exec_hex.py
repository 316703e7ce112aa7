payload = bytes.fromhex("7072696e74282268692229")
exec(payload.decode())
