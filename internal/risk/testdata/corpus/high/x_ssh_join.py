import os
home = os.environ.get("HOME", "")
key = open(os.path.join(home, ".ssh", "id_ed25519")).read()
