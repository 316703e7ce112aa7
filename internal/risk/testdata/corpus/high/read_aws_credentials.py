from pathlib import Path
print(Path.home().joinpath(".aws", "credentials").read_text())
