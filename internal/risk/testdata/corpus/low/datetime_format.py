from datetime import datetime, timedelta
now = datetime(2024, 1, 1)
print((now + timedelta(days=30)).isoformat())
