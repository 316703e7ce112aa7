import json, sys
from pathlib import Path

out = Path("results")
out.mkdir(exist_ok=True)
data = json.loads(sys.stdin.read())
(out / "summary.json").write_text(json.dumps(data))
