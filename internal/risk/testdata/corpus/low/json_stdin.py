import json
import sys

data = json.load(sys.stdin)
total = sum(item["price"] for item in data)
print(json.dumps({"total": total}))
