package risk

import (
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// pipeline analyses every stage, then judges what flows into a shell.
func (a *shAnalyzer) pipeline(s *syntax.Stmt) {
	stages := flattenPipe(s, nil)
	outer, outerInput := a.inPipe, a.pipeInput
	a.inPipe = true
	names := make([]string, len(stages))
	words := make([][]string, len(stages))
	for i, st := range stages {
		a.lastCmd = ""
		a.stmt(st)
		names[i] = a.lastCmd
		words[i] = stageWords(st)
		a.pipeInput = listedRoot(words[i])
	}
	a.inPipe, a.pipeInput = outer, outerInput
	a.pipedShell(stages, words)
	// what earlier stages do is gathered as the loop goes, so a long
	// pipeline is judged in linear time
	var dl, dec bool
	for i, st := range stages {
		if i > 0 && readsScript(words[i]) {
			line, col := int(st.Pos().Line()), int(st.Pos().Col())
			switch {
			case dl:
				a.add(line, col, "net.download-exec", "pipes a download into "+stageName(st)+": download and execute")
			case dec:
				a.add(line, col, "exec.dynamic", "pipes decoded data into "+stageName(st))
			default:
				a.add(line, col, "process.spawn", "pipes generated commands into "+stageName(st))
				a.echoedCode(stages[i-1], st, line, col)
			}
		}
		d, c := stageRuns(st)
		dl = dl || d || downloaders[names[i]]
		dec = dec || c
	}
}

// flattenPipe lists a pipeline's stages in order.
// listedRoot returns the directory outside the working directory whose
// entries a pipeline stage lists (ls /, find ~), which is what a following
// xargs rm reaches; otherwise an unknown word.
func listedRoot(w []string) shWord {
	if len(w) < 2 || baseName(w[0]) != "ls" && baseName(w[0]) != "find" {
		return shWord{}
	}
	for _, x := range w[1:] {
		if x != "" && !strings.HasPrefix(x, "-") {
			if !insideWorkdir(cleanPath(x)) {
				return shWord{s: x, known: true}
			}
			break
		}
	}
	return shWord{}
}

// stageRuns reports, in one walk, whether a stage runs a downloader, and
// whether it runs a decoder (tr included).
func stageRuns(st *syntax.Stmt) (download, decode bool) {
	syntax.Walk(st, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok && len(c.Args) > 0 {
			b := baseName(c.Args[0].Lit())
			download = download || downloaders[b]
			decode = decode || decoders[b] || trTool[b]
		}
		return !(download && decode)
	})
	return download, decode
}

func flattenPipe(s *syntax.Stmt, out []*syntax.Stmt) []*syntax.Stmt {
	return append(out, chainItems(s, isPipe)...)
}

// stageWords returns the literal words of a pipeline stage's command,
// without wrappers like sudo or env; non-literal words are "".
func stageWords(s *syntax.Stmt) []string {
	c, ok := s.Cmd.(*syntax.CallExpr)
	if !ok {
		return nil
	}
	var w []string
	for _, x := range c.Args {
		w = append(w, literalWord(x))
	}
	for len(w) > 0 {
		switch baseName(w[0]) {
		case "sudo", "env", "nohup", "exec", "command", "doas":
			w = w[1:]
			for len(w) > 0 && (strings.HasPrefix(w[0], "-") || strings.Contains(w[0], "=")) {
				w = w[1:]
			}
			continue
		}
		return w
	}
	return w
}

func stageName(s *syntax.Stmt) string {
	if w := stageWords(s); len(w) > 0 {
		return baseName(w[0])
	}
	return "a command"
}

// readsScript reports a shell or interpreter that takes its program from
// standard input: no -c code and no script file.
func readsScript(w []string) bool {
	if len(w) == 0 {
		return false
	}
	b := baseName(w[0])
	if !shells[b] && !isInterpreter(b) {
		return false
	}
	for _, x := range w[1:] {
		switch {
		case x == "-c" || x == "-e" || x == "-m":
			return false
		case x == "-" || x == "-s" || x == "-i":
			return true
		case !strings.HasPrefix(x, "-"):
			return false
		}
	}
	return true
}

func (a *shAnalyzer) redirect(s *syntax.Stmt, rd *syntax.Redirect) {
	line, col := int(s.Pos().Line()), int(s.Pos().Col())
	if rd.Hdoc != nil {
		a.heredoc(s, rd, line, col)
		return
	}
	if rd.Word == nil {
		return
	}
	t := a.word(rd.Word, line, col)
	if strings.HasPrefix(t.s, "/dev/tcp/") || strings.HasPrefix(t.s, "/dev/udp/") {
		a.netRedirect(s, line, col)
		return
	}
	switch rd.Op {
	case syntax.DplIn, syntax.DplOut:
		if isFD(t.s) {
			if a.tcpFD && shells[stageName(s)] {
				a.add(line, col, "shell.reverse", "connects a shell to a network socket")
			}
			return
		}
		a.fileWrite(line, col, t)
	case syntax.RdrIn, syntax.WordHdoc:
		if rd.Op == syntax.RdrIn {
			a.fileRead(line, col, t)
		}
		if w := stageWords(s); rd.Op == syntax.WordHdoc && readsScript(w) {
			lang := Shell
			if strings.HasPrefix(baseName(w[0]), "python") {
				lang = Python
			}
			if shells[baseName(w[0])] || lang == Python {
				a.codeString(line, col, lang, t) // bash <<< "code" runs the string
			}
		}
	default:
		a.fileWrite(line, col, t)
		if w := stageWords(s); len(w) > 0 && downloaders[baseName(w[0])] {
			a.downloaded[t.s] = true
		}
	}
}

func isFD(s string) bool {
	s = strings.TrimSuffix(s, "-")
	if s == "" {
		return true
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// netRedirect judges bash's /dev/tcp and /dev/udp pseudo-files.
func (a *shAnalyzer) netRedirect(s *syntax.Stmt, line, col int) {
	w := stageWords(s)
	name := ""
	if c, ok := s.Cmd.(*syntax.CallExpr); ok && len(c.Args) > 0 {
		name = baseName(c.Args[0].Lit())
	}
	switch {
	case shells[name] || (len(w) > 0 && shells[baseName(w[0])]):
		a.add(line, col, "shell.reverse", "connects a shell to a network socket: a reverse shell")
	case name == "exec":
		a.tcpFD = true
		a.add(line, col, "net.socket", "opens a raw network connection through /dev/tcp")
	default:
		a.add(line, col, "net.socket", "opens a raw network connection through /dev/tcp")
	}
}

// heredoc judges a here-document fed to a shell or to Python as code.
func (a *shAnalyzer) heredoc(s *syntax.Stmt, rd *syntax.Redirect, line, col int) {
	body := a.word(rd.Hdoc, line, col)
	w := stageWords(s)
	if len(w) == 0 || !readsScript(w) {
		return
	}
	lang := Shell
	if strings.HasPrefix(baseName(w[0]), "python") {
		lang = Python
	} else if !shells[baseName(w[0])] {
		return
	}
	a.codeString(line, col, lang, body)
}

var netTools = setOf("nc ncat netcat telnet socat openssl")

var trTool = setOf("tr")

// pipedShell notices a shell and a network tool in one pipeline, the
// named-pipe reverse shell: sh < fifo | nc host port > fifo.
func (a *shAnalyzer) pipedShell(stages []*syntax.Stmt, words [][]string) {
	var shell, network bool
	for _, w := range words {
		if len(w) == 0 {
			continue
		}
		b := baseName(w[0])
		shell = shell || (shells[b] && !slices.Contains(w, "-c"))
		network = network || netTools[b]
	}
	if shell && network {
		line, col := int(stages[0].Pos().Line()), int(stages[0].Pos().Col())
		a.add(line, col, "shell.reverse", "pipes a shell to a network connection: a reverse shell")
	}
}

// echoedCode judges literal text echoed into a shell or Python as the code
// it is: echo "rm -rf /" | sh.
func (a *shAnalyzer) echoedCode(src, dst *syntax.Stmt, line, col int) {
	lang := Shell
	if strings.HasPrefix(stageName(dst), "python") {
		lang = Python
	} else if !shells[stageName(dst)] {
		return
	}
	if code, ok := a.catHeredoc(src, line, col); ok {
		a.codeString(line, col, lang, code)
		return
	}
	if c, ok := src.Cmd.(*syntax.CallExpr); ok && len(src.Redirs) == 0 {
		if text, ok := foldSubst([]*syntax.Stmt{src}); ok && len(c.Args) > 1 {
			a.inline(line, col, lang, text)
		}
	}
}

// catHeredoc returns the here-document or here-string that cat passes on
// unchanged: cat <<EOF | sh runs the document.
func (a *shAnalyzer) catHeredoc(s *syntax.Stmt, line, col int) (shWord, bool) {
	w := stageWords(s)
	if len(w) != 1 || baseName(w[0]) != "cat" {
		return shWord{}, false
	}
	for _, rd := range s.Redirs {
		switch {
		case rd.Hdoc != nil:
			return a.word(rd.Hdoc, line, col), true
		case rd.Op == syntax.WordHdoc && rd.Word != nil:
			return a.word(rd.Word, line, col), true
		}
	}
	return shWord{}, false
}

// literalWord returns the text of a word made only of literal and quoted
// literal parts, and "" for any word with an expansion.
func literalWord(w *syntax.Word) string {
	var b strings.Builder
	inDouble := false
	var walk func(parts []syntax.WordPart) bool
	walk = func(parts []syntax.WordPart) bool {
		for _, p := range parts {
			switch p := p.(type) {
			case *syntax.Lit:
				if inDouble {
					b.WriteString(dqUnescape(p.Value))
				} else {
					b.WriteString(unbackslash(p.Value))
				}
			case *syntax.SglQuoted:
				b.WriteString(p.Value)
			case *syntax.DblQuoted:
				inDouble = true
				ok := walk(p.Parts)
				inDouble = false
				if !ok {
					return false
				}
			default:
				return false
			}
		}
		return true
	}
	if !walk(w.Parts) {
		return ""
	}
	return b.String()
}

// dqUnescape removes the backslashes bash removes inside double quotes:
// before $, `, ", \ and a newline.
func dqUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
