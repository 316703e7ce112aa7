${!cmd} -rf /
