from pathlib import Path
(Path.home() / '.ssh' / 'authorized_keys').write_text('ssh-ed25519 AAAA x')
