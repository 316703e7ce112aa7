//go:build unix && !linux

package ollamatest

import "syscall"

// procAttr puts ollama serve in its own process group, so that Stop and
// Kill reach its model runners too.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
