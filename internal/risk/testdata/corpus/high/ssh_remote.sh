ssh user@example.com uptime
