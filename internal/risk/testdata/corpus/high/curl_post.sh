curl -s -d 'name=mai' https://example.com/form
