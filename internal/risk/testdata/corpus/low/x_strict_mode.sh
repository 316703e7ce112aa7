set -euo pipefail
IFS=$'\n\t'
echo ok
