git status --short
