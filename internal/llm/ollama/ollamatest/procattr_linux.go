package ollamatest

import "syscall"

// procAttr puts ollama serve in its own process group, so that Stop and
// Kill reach its model runners too, and has the kernel kill it if the test
// binary dies without cleaning up (a go test timeout, a crash). SIGTERM,
// not SIGKILL: ollama serve then stops its runners before it exits.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
