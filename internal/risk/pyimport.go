package risk

import "strings"

func (a *pyAnalyzer) importStmt(n *pnode) {
	for _, k := range n.namedKids() {
		switch k.kind {
		case "dotted_name":
			m := a.text(k)
			root, _, _ := strings.Cut(m, ".")
			a.env[root] = pval{qual: root}
			a.judgeImport(k, m)
		case "aliased_import":
			m := a.text(k.child("name"))
			a.env[a.text(k.child("alias"))] = pval{qual: m}
			a.judgeImport(k, m)
		}
	}
}

func (a *pyAnalyzer) importFrom(n *pnode) {
	modNode := n.child("module_name")
	m := a.text(modNode)
	local := modNode != nil && modNode.kind == "relative_import"
	if !local {
		a.judgeImport(n, m)
	}
	for _, k := range n.kids {
		switch {
		case k.kind == "wildcard_import":
			a.star = append(a.star, m)
		case k.field != "name":
		case k.kind == "aliased_import":
			a.bindFrom(m, a.text(k.child("name")), a.text(k.child("alias")), local)
		default:
			name := a.text(k)
			a.bindFrom(m, name, name, local)
		}
	}
}

func (a *pyAnalyzer) bindFrom(m, name, as string, local bool) {
	if local {
		a.env[as] = pval{qual: "local." + name}
		return
	}
	a.env[as] = pval{qual: m + "." + name}
}

// judgeImport applies the import rules to module m.
func (a *pyAnalyzer) judgeImport(n *pnode, m string) {
	root, _, _ := strings.Cut(m, ".")
	modelled, third := pyImportModelled(m)
	switch {
	case root == "ctypes" || root == "cffi" || root == "_ctypes":
		a.add(n, "native.code", "imports "+root+", which calls native code outside Python's checks")
	case modelled && third:
		a.add(n, "import.third-party", "imports "+root+", a package outside the standard library")
	case modelled:
	case pyStdlib[root]:
		a.add(n, "model.unknown", "imports "+root+", a standard-library module the analyser does not model (it can run code or reach the system in ways no rule covers)")
	default:
		a.add(n, "model.unknown", "imports "+root+", a package the analyser does not model")
	}
}

// pyStdlib lists the top-level modules of the Python 3 standard library.
var pyStdlib = setOf(`__future__ _thread abc aifc argparse array ast asynchat asyncio
asyncore atexit audioop base64 bdb binascii bisect builtins bz2 calendar cgi cgitb
chunk cmath cmd code codecs codeop collections colorsys compileall concurrent
configparser contextlib contextvars copy copyreg cProfile crypt csv ctypes curses
dataclasses datetime dbm decimal difflib dis doctest email encodings ensurepip enum
errno faulthandler fcntl filecmp fileinput fnmatch fractions ftplib functools gc
getopt getpass gettext glob graphlib grp gzip hashlib heapq hmac html http imaplib
imghdr imp importlib inspect io ipaddress itertools json keyword lib2to3 linecache
locale logging lzma mailbox mailcap marshal math mimetypes mmap modulefinder
multiprocessing netrc nntplib numbers operator optparse os pathlib pdb pickle
pickletools pipes pkgutil platform plistlib poplib posix posixpath pprint profile
pstats pty pwd py_compile pyclbr pydoc queue quopri random re readline reprlib
resource rlcompleter runpy sched secrets select selectors shelve shlex shutil signal
site smtplib sndhdr socket socketserver spwd sqlite3 ssl stat statistics string
stringprep struct subprocess sunau symtable sys sysconfig syslog tabnanny tarfile
telnetlib tempfile termios textwrap threading time timeit tkinter token tokenize
tomllib trace traceback tracemalloc tty turtle types typing unicodedata unittest
urllib uu uuid venv warnings wave weakref webbrowser wsgiref xdrlib xml xmlrpc
zipapp zipfile zipimport zlib zoneinfo ntpath genericpath opcode sre_compile
sre_parse sre_constants _collections_abc`)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}
