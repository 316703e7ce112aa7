def system(cmd):
    return cmd.upper()

print(system('rm -rf /'))
