wget -q -O page.html https://example.com/
