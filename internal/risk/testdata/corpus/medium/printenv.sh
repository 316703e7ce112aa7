printenv | sort
