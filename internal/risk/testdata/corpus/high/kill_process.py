import os
import signal
os.kill(1234, signal.SIGTERM)
