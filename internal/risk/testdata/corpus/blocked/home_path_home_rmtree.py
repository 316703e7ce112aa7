from pathlib import Path
import shutil
shutil.rmtree(Path.home() / "work")
