import os
os.system('su' + 'do reboot')
