cmd="ls -la"
$cmd
