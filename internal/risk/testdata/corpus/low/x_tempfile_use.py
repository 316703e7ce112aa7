import tempfile
with tempfile.NamedTemporaryFile('w') as f:
    f.write('x')
