import sys
import os
sys.modules["o" + "s"].system("id")
