from pathlib import Path
Path('config.json').chmod(0o600)
