echo "never run rm -rf / on a real machine"
printf '%s\n' 'sudo is not needed here'
