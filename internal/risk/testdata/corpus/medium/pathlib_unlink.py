from pathlib import Path
Path("scratch.log").unlink()
