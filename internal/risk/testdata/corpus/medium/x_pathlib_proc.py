from pathlib import Path
print(Path('/proc/meminfo').read_text()[:80])
