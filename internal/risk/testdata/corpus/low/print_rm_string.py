print("to wipe a disk people type rm -rf / -- never do that")
