x=sudo
$x id
