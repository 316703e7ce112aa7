package risk

import (
	"go/ast"
	"go/token"
	"strings"
)

// What the analyser understands of Go, for failing closed. The standard
// library is pure apart from the packages in goModelled, whose calls must
// be judged (goCalls) or listed harmless (goHarmless); syscall, unsafe,
// plugin and cgo are native code; third-party modules must be in
// goThirdParty (MEDIUM), and any other is HIGH.

var goModelled = setOf("os os/exec net net/http")

var goHarmless = setOf(`os.Getwd os.Getpid os.Getppid os.Getuid os.Geteuid os.Getgid os.Getegid os.Getgroups
	os.Hostname os.Exit os.Executable os.TempDir os.UserCacheDir os.UserConfigDir os.UserHomeDir os.Stat
	os.Lstat os.IsNotExist os.IsExist os.IsPermission os.IsTimeout os.Getpagesize os.Expand os.SameFile
	os.NewFile os.Pipe os.CreateTemp os.MkdirTemp os.Readlink os.Chtimes os.NewSyscallError os.CopyFS
	os/exec.LookPath
	net.ParseIP net.ParseCIDR net.SplitHostPort net.JoinHostPort net.LookupHost net.LookupIP net.LookupAddr
	net.LookupPort net.LookupCNAME net.LookupMX net.LookupTXT net.IPv4 net.IPv4Mask net.CIDRMask
	net.ResolveTCPAddr net.ResolveUDPAddr net.ResolveIPAddr net.InterfaceAddrs net.Interfaces net.ParseMAC
	net.IP net.IPMask net.InterfaceByName
	net/http.NewServeMux net/http.HandleFunc net/http.Handle net/http.StatusText net/http.Error
	net/http.NotFound net/http.NotFoundHandler net/http.Redirect net/http.StripPrefix net/http.TimeoutHandler
	net/http.MaxBytesReader net/http.DetectContentType net/http.CanonicalHeaderKey net/http.ParseHTTPVersion
	net/http.ReadRequest net/http.ReadResponse net/http.SetCookie net/http.Header net/http.HandlerFunc
	net/http.ProxyFromEnvironment net/http.ProxyURL net/http.NewResponseController net/http.FileServer
	net/http.Dir net/http.ServeContent net/http.ServeFile`)

var goThirdParty = []string{"github.com/google/uuid", "gopkg.in/yaml.v", "github.com/pkg/errors",
	"golang.org/x/text", "golang.org/x/exp", "golang.org/x/sync", "github.com/stretchr/testify",
	"github.com/fatih/color", "github.com/sirupsen/logrus", "go.uber.org/zap", "github.com/BurntSushi/toml",
	"github.com/shopspring/decimal", "github.com/dustin/go-humanize", "github.com/spf13/cobra",
	"github.com/spf13/pflag", "github.com/mattn/go-isatty", "github.com/olekukonko/tablewriter",
	"github.com/google/go-cmp", "golang.org/x/crypto", "github.com/golang-jwt/jwt", "github.com/gorilla/mux",
	"github.com/go-chi/chi"}

// goThirdPartyModelled reports a module the analyser models.
func goThirdPartyModelled(p string) bool {
	for _, m := range goThirdParty {
		if p == m || strings.HasPrefix(p, m) {
			return true
		}
	}
	return false
}

// goCallModelled reports whether a call of q is understood.
func goCallModelled(q string) bool {
	if q == "" || strings.Contains(q, "()") {
		return true
	}
	if _, ok := goCalls[q]; ok {
		return true
	}
	i := strings.LastIndexByte(q, '.')
	if i < 0 || !goModelled[q[:i]] {
		return true
	}
	return goHarmless[q]
}

// goConsts are the standard library's constants that name separators.
var goConsts = map[string]int64{
	"path/filepath.Separator": '/', "os.PathSeparator": '/',
	"path/filepath.ListSeparator": ':', "os.PathListSeparator": ':',
}

// goSyscallNumbers are the system calls judged by number, for amd64 and
// arm64: setuid and its kin, and the container escapes.
var goSyscallNumbers = map[int64]string{
	105: "privilege", 106: "privilege", 113: "privilege", 114: "privilege", 117: "privilege",
	119: "privilege", 122: "privilege", 123: "privilege", 126: "privilege",
	146: "privilege", 144: "privilege", 147: "privilege", 145: "privilege", 143: "privilege",
	165: "escape", 166: "escape", 161: "escape", 272: "escape", 308: "escape", 101: "escape", 155: "escape",
	40: "escape", 39: "escape", 51: "escape", 97: "escape", 268: "escape", 41: "escape",
}

// funcValue judges a function the rules know used as a value, not called:
// handed to reflect, stored in a map, passed as a callback. It counts as a
// call whose arguments cannot be followed.
func (a *goAnalyzer) funcValue(e ast.Expr) {
	if a.callees[e] {
		return
	}
	q := a.qual(e)
	if _, ok := goCalls[q]; !ok {
		return
	}
	a.call(&ast.CallExpr{Fun: e, Lparen: e.End(), Rparen: e.End()})
}

// methodCall judges calls the qualified name does not show: a function
// called through reflect, a dial made through a Dialer value.
func (a *goAnalyzer) methodCall(c *ast.CallExpr) {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok || a.qual(c.Fun) != "" {
		return
	}
	switch sel.Sel.Name {
	case "Call", "CallSlice":
		if a.importsPath("reflect") {
			a.add(c.Pos(), "model.unknown", "calls a function through reflect, which the analyser cannot follow")
		}
	case "Dial", "DialContext", "DialTCP", "DialUDP":
		if a.importsPath("net") || a.importsPath("crypto/tls") {
			a.add(c.Pos(), "net.socket", "opens a network connection")
			a.socketAt = c.Pos()
		}
	}
}

func (a *goAnalyzer) importsPath(p string) bool {
	for _, v := range a.imports {
		if v == p {
			return true
		}
	}
	return false
}

// syscallByNumber judges a raw system call made by its number.
func (a *goAnalyzer) syscallByNumber(pos token.Pos, v gval) {
	switch goSyscallNumbers[v.num] {
	case "privilege":
		a.add(pos, "privilege.escalate", "changes the process's user or group through a raw system call by number")
	case "escape":
		a.add(pos, "escape.container", "makes a system call by number that is a container escape route")
	}
}

// cmdLiteral judges an exec.Cmd written as a struct literal: it runs its
// Args (or its Path) as exec.Command would.
func (a *goAnalyzer) cmdLiteral(c *ast.CompositeLit) {
	if a.qual(c.Type) != "os/exec.Cmd" {
		return
	}
	var path, args gval
	for _, e := range c.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		switch k, _ := kv.Key.(*ast.Ident); {
		case k == nil:
		case k.Name == "Path":
			path = a.eval(kv.Value)
		case k.Name == "Args":
			args = a.eval(kv.Value)
		}
	}
	argv := args.list
	if len(argv) > 0 && path.known {
		argv = append([]gval{path}, argv[1:]...)
	} else if len(argv) == 0 {
		argv = []gval{path}
	}
	a.spawn(c.Pos(), argv)
}
