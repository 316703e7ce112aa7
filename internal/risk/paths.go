package risk

import (
	"path"
	"strings"
)

// pathVerdict is what a file access means: a rule and its reason, or an
// empty rule when the access is LOW.
type pathVerdict struct{ rule, reason string }

// cleanPath normalises the spellings of the home directory and removes
// redundant elements, keeping a relative path relative.
func cleanPath(p string) string {
	for _, home := range []string{"$HOME", "${HOME}", "/root"} {
		if p == home || strings.HasPrefix(p, home+"/") {
			p = "~" + p[len(home):]
		}
	}
	if p == "" {
		return p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

func underAny(p string, dirs ...string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}

// insideWorkdir reports whether p stays in the working directory or /tmp.
func insideWorkdir(p string) bool {
	switch {
	case underAny(p, "/tmp"):
		return true
	case strings.HasPrefix(p, "/"), strings.HasPrefix(p, "~"):
		return false
	case p == "..", strings.HasPrefix(p, "../"):
		return false
	}
	return true
}

var harmlessDevices = map[string]bool{
	"/dev/null": true, "/dev/stdout": true, "/dev/stderr": true, "/dev/stdin": true,
	"/dev/zero": true, "/dev/urandom": true, "/dev/random": true, "/dev/tty": true,
}

func isEscapePath(p string) bool {
	return strings.Contains(p, "docker.sock") || strings.Contains(p, "containerd.sock") ||
		underAny(p, "/proc/1/root", "/proc/1/ns", "/var/run/docker", "/run/docker")
}

func isSecretPath(p string) bool {
	base := path.Base(p)
	for _, s := range []string{".ssh", ".aws", ".gnupg", ".kube/config", ".docker/config.json", ".config/gh"} {
		if strings.Contains(p, "/"+s) || strings.HasPrefix(p, s) {
			return true
		}
	}
	switch {
	case base == ".netrc", base == ".env", strings.HasPrefix(base, ".env."),
		strings.HasSuffix(base, ".pem"), strings.HasSuffix(base, ".key"),
		strings.HasPrefix(base, "id_rsa"), strings.HasPrefix(base, "id_ed25519"),
		strings.HasPrefix(base, "id_ecdsa"), strings.HasPrefix(base, "id_dsa"):
		return true
	}
	return underAny(p, "/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d")
}

var startupFiles = map[string]bool{
	".bashrc": true, ".bash_profile": true, ".bash_login": true, ".bash_logout": true,
	".profile": true, ".zshrc": true, ".zprofile": true, ".zshenv": true, ".zlogin": true,
	"authorized_keys": true, "config.fish": true,
}

func isPersistPath(p string) bool {
	base := path.Base(p)
	if startupFiles[base] && (strings.HasPrefix(p, "~") || strings.HasPrefix(p, "/")) {
		return true
	}
	return underAny(p, "/etc/cron.d", "/etc/crontab", "/etc/cron.daily", "/etc/cron.hourly",
		"/etc/cron.weekly", "/etc/cron.monthly", "/var/spool/cron", "/etc/systemd",
		"/lib/systemd", "/usr/lib/systemd", "~/.config/systemd", "~/.config/autostart",
		"/etc/profile", "/etc/profile.d", "/etc/bash.bashrc", "/etc/rc.local", "/etc/init.d",
		"/etc/ld.so.preload") || strings.HasSuffix(base, ".service") && strings.Contains(p, "systemd")
}

func isBlockDevice(p string) bool {
	if !strings.HasPrefix(p, "/dev/") || harmlessDevices[p] {
		return false
	}
	for _, d := range []string{"sd", "hd", "vd", "xvd", "nvme", "mmcblk", "mem", "kmem", "disk", "loop", "dm-", "md", "port"} {
		if strings.HasPrefix(p[5:], d) {
			return true
		}
	}
	return false
}

// judgePath classifies reading or writing the file at p (a literal path or
// the literal prefix of a computed one).
func judgePath(p string, write bool) pathVerdict {
	p = cleanPath(p)
	if p == "" || harmlessDevices[p] || strings.HasPrefix(p, "/dev/fd/") {
		return pathVerdict{}
	}
	switch {
	case isEscapePath(p):
		return pathVerdict{"escape.container", "touches " + p + ", a way out of the container"}
	case write && isPersistPath(p):
		return pathVerdict{"persist.startup", "writes " + p + ", which runs code at start-up or on a schedule"}
	case write && underAny(p, "/etc", "/proc/sys", "/sys", "/boot", "/lib/modules"):
		return pathVerdict{"system.tamper", "writes " + p + ", part of the system configuration"}
	case write && isBlockDevice(p):
		return pathVerdict{"destroy.device", "writes to the device " + p}
	case isSecretPath(p):
		return pathVerdict{"secret.read", "touches " + p + ", which looks like a secret"}
	case insideWorkdir(p):
		return pathVerdict{}
	case write:
		return pathVerdict{"file.write-outside", "writes " + p + ", outside the working directory and /tmp"}
	}
	return pathVerdict{"file.read-outside", "reads " + p + ", outside the working directory"}
}

// judgeDelete classifies deleting target; known is false when the target is
// computed and only its literal prefix (possibly empty) is in target.
func judgeDelete(target string, recursive, known bool) pathVerdict {
	t := cleanPath(target)
	if !known && t == "" {
		if recursive {
			return pathVerdict{"file.delete-recursive", "deletes a computed path recursively"}
		}
		return pathVerdict{"file.delete", "deletes a file whose name is computed"}
	}
	switch t {
	case "/", "/*", "~", "~/", "~/*", "*", ".", "./", "./*", "..", "../", "../*", "/tmp/..":
		if recursive || strings.Contains(t, "*") {
			return pathVerdict{"destroy.filesystem", "deletes " + target + " recursively, destroying everything under it"}
		}
	}
	if recursive && !insideWorkdir(t) {
		return pathVerdict{"destroy.filesystem", "deletes " + target + " recursively, outside the working directory"}
	}
	if v := judgePath(t, true); v.rule != "" {
		return v
	}
	if recursive {
		return pathVerdict{"file.delete-recursive", "deletes the directory tree " + target}
	}
	return pathVerdict{"file.delete", "deletes " + target}
}
