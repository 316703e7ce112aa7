data = [113, 115, 106, 111, 117, 41, 50, 42]
exec(bytes([b - 1 for b in data]).decode())
