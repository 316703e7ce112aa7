package risk

import "sort"

// Rule is one built-in check. Its ID is stable: policy files and audit
// records refer to it, so an ID is never reused for a different meaning.
type Rule struct {
	ID      string
	Level   Level
	Summary string
}

// builtinRules is the rule table; the levels follow the risk-levels note.
var builtinRules = []Rule{
	{"file.read-outside", Medium, "reads a file outside the working directory"},
	{"file.delete", Medium, "deletes a single file"},
	{"file.path-from-input", Medium, "accesses a file whose path comes from arguments or input"},
	{"env.read", Medium, "reads environment variables"},
	{"concurrency.bounded", Medium, "starts threads or processes of the interpreter"},
	{"resource.sleep", Medium, "sleeps for a minute or more, or for a computed time"},
	{"resource.alloc", Medium, "allocates 256 MiB or more, or a computed amount"},
	{"import.third-party", Medium, "imports a package outside the standard library"},
	{"net.client", Medium, "makes a network request without a body"},

	{"process.spawn", High, "runs another program"},
	{"process.computed", High, "runs a command whose name or text is computed"},
	{"net.socket", High, "opens a raw socket, listens, or sends data over the network"},
	{"file.delete-recursive", High, "deletes a directory tree inside the working directory"},
	{"file.permissions", High, "changes file permissions or ownership"},
	{"native.code", High, "calls native code (ctypes, cffi, cgo, unsafe, syscall)"},
	{"deserialize.unsafe", High, "loads pickle, marshal or shelve data that can run code"},
	{"import.computed", High, "imports a module whose name is computed"},
	{"dynamic.unresolved", High, "reaches an attribute or global by a name that cannot be resolved"},
	{"file.write-outside", High, "writes a file by absolute path outside the working directory and /tmp"},
	{"secret.read", High, "touches a secret-looking path or environment variable"},
	{"process.signal", High, "signals other processes"},
	{"env.tamper", High, "changes the module path, builtins, or the environment of child processes"},
	{"concurrency.unbounded-threads", High, "starts threads in a loop without a bound"},
	{"parse.error", High, "the code cannot be parsed"},
	{"parse.unknown-language", High, "the language of the code is unknown"},
	{"input.too-large", High, "the code is too large to analyse"},
	{"analysis.incomplete", High, "the analysis was cancelled before it finished"},
	{"analysis.timeout", High, "the analysis took too long"},
	{"input.too-deep", High, "the code is nested too deeply to analyse in full"},
	{"model.unknown", High, "uses a module, package, builtin, attribute or command the analyser does not model"},

	{"exec.dynamic", Blocked, "evaluates code that is not a string literal, or decoded data"},
	{"dynamic.dangerous-name", Blocked, "reaches os, subprocess, builtins or similar by a computed name"},
	{"destroy.filesystem", Blocked, "destroys files outside the working directory or everything in it"},
	{"destroy.device", Blocked, "formats, wipes or overwrites a device"},
	{"destroy.fork-bomb", Blocked, "starts processes without a bound"},
	{"privilege.escalate", Blocked, "gains privileges (sudo, su, setuid, capabilities)"},
	{"shell.reverse", Blocked, "connects a shell to the network (reverse or bind shell)"},
	{"escape.container", Blocked, "reaches for a container escape (Docker socket, namespaces, mount, ptrace)"},
	{"system.tamper", Blocked, "changes the system (/etc, /proc/sys, /sys, /boot, kernel modules, firewall)"},
	{"net.download-exec", Blocked, "downloads code and runs it"},
	{"persist.startup", Blocked, "installs itself to run later (cron, systemd, shell start-up files)"},
}

// integrityRules report that the analysis itself could not see the code;
// lowering them would let anything through by hiding it from the parser.
var integrityRules = map[string]bool{
	"parse.error": true, "parse.unknown-language": true,
	"input.too-large": true, "analysis.incomplete": true, "analysis.timeout": true,
	"input.too-deep": true, "model.unknown": true,
}

// Rules returns a copy of the built-in rule table, sorted by ID.
func Rules() []Rule {
	out := append([]Rule(nil), builtinRules...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ruleLevel returns a rule's built-in level; unknown IDs count as HIGH so a
// typo in the analyser can never turn a finding into LOW.
func ruleLevel(id string) Level {
	for _, r := range builtinRules {
		if r.ID == id {
			return r.Level
		}
	}
	return High
}
