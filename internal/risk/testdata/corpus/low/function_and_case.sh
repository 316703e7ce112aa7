greet() {
  case "$1" in
    en) echo "hello" ;;
    fr) echo "bonjour" ;;
    *) echo "hi" ;;
  esac
}
greet en
greet fr
