package risk

import "strings"

// pyKind names what a callable does, for the rule table.
type pyKind int

const (
	kShell pyKind = iota + 1
	kSubprocess
	kExecv
	kSpawnv
	kPosixSpawn
	kPtySpawn
	kCodeExec
	kOpen
	kOSOpen
	kRead1
	kWrite1
	kCopy
	kDelete
	kRmtree
	kChmod
	kChown
	kPriv
	kEscape
	kSignal
	kFork
	kProcess
	kThread
	kEnvRead
	kEnvWrite
	kSleep
	kAlloc
	kNetGet
	kNetSend
	kNetRequest
	kURLOpen
	kURLRetrieve
	kURLRequest
	kHTTPConn
	kHTTPConnRequest
	kSocket
	kListen
	kSockConnect
	kDup2
	kDeserialize
	kYAMLLoad
	kImport
	kRunPath
	kGetattr
	kSetattr
	kGlobals
	kVars
	kChr
	kBytes
	kStr
	kInput
	kDecode
	kPath
	kPathHome
	kSysPath
	kExpandUser
	kJoin
	kMPContext
	kLogFile
	kNetrc
	kSQLite
	kChdir
	kMethodCaller
	kAttrGetter
	kMap
	kBreakpoint
)

// pyCalls maps a canonical dotted name to what calling it does.
var pyCalls = buildPyCalls()

func buildPyCalls() map[string]pyKind {
	m := map[string]pyKind{}
	put := func(k pyKind, names string) {
		for _, n := range strings.Fields(names) {
			m[n] = k
		}
	}
	put(kShell, `os.system os.popen subprocess.getoutput subprocess.getstatusoutput
		commands.getoutput commands.getstatusoutput asyncio.create_subprocess_shell os.popen2 os.popen3
		asyncio.loop.subprocess_shell`)
	put(kSubprocess, `subprocess.run subprocess.call subprocess.check_call subprocess.check_output
		subprocess.Popen asyncio.create_subprocess_exec asyncio.loop.subprocess_exec`)
	put(kExecv, `os.execv os.execve os.execvp os.execvpe os.execl os.execle os.execlp os.execlpe`)
	put(kSpawnv, `os.spawnv os.spawnve os.spawnvp os.spawnvpe os.spawnl os.spawnle os.spawnlp os.spawnlpe`)
	put(kPosixSpawn, `os.posix_spawn os.posix_spawnp`)
	put(kPtySpawn, `pty.spawn`)
	put(kCodeExec, `builtins.eval builtins.exec builtins.compile builtins.execfile cProfile.run cProfile.runctx
		profile.run profile.runctx pdb.run pdb.runeval pdb.runctx timeit.timeit timeit.repeat timeit.Timer
		code.interact code.InteractiveInterpreter().runsource code.InteractiveInterpreter().runcode
		code.InteractiveConsole().push code.InteractiveConsole().runsource code.InteractiveConsole().runcode
		code.InteractiveConsole().interact cProfile.Profile().run cProfile.Profile().runctx
		profile.Profile().run profile.Profile().runctx`)
	putModelCalls(put)
	put(kOpen, `builtins.open io.open codecs.open io.FileIO gzip.open bz2.open lzma.open tarfile.open
		zipfile.ZipFile gzip.GzipFile`)
	put(kOSOpen, `os.open`)
	put(kRead1, `os.listdir os.scandir os.walk glob.glob glob.iglob os.stat shutil.disk_usage
		builtins.execfile`)
	put(kWrite1, `os.mkdir os.makedirs os.mknod os.mkfifo os.truncate shutil.make_archive`)
	put(kCopy, `os.rename os.replace os.renames shutil.move shutil.copy shutil.copy2 shutil.copyfile
		shutil.copytree os.symlink os.link shutil.unpack_archive`)
	put(kDelete, `os.remove os.unlink os.rmdir os.removedirs`)
	put(kRmtree, `shutil.rmtree`)
	put(kChmod, `os.chmod os.lchmod os.fchmod`)
	put(kChown, `os.chown os.lchown os.fchown shutil.chown`)
	put(kPriv, `os.setuid os.setgid os.seteuid os.setegid os.setreuid os.setregid os.setresuid
		os.setresgid os.setgroups os.initgroups`)
	put(kEscape, `os.chroot os.unshare os.setns os.pivot_root`)
	put(kSignal, `os.kill os.killpg signal.pthread_kill os.pidfd_send_signal`)
	put(kFork, `os.fork os.forkpty pty.fork`)
	put(kProcess, `multiprocessing.Process multiprocessing.Pool concurrent.futures.ProcessPoolExecutor
		multiprocessing.pool.Pool`)
	put(kThread, `threading.Thread threading.Timer _thread.start_new_thread _thread.start_new
		concurrent.futures.ThreadPoolExecutor`)
	put(kEnvRead, `os.getenv os.getenvb os.environ.get os.environ.copy os.environ.items os.environ.keys
		os.environ.values`)
	put(kEnvWrite, `os.putenv os.unsetenv os.environ.update os.environ.setdefault os.environ.pop
		os.environ.clear`)
	put(kSleep, `time.sleep asyncio.sleep`)
	put(kAlloc, `builtins.bytearray`)
	put(kNetGet, `requests.get requests.head requests.options httpx.get httpx.head httpx.options
		aiohttp.ClientSession().get`)
	put(kNetSend, `requests.post requests.put requests.patch requests.delete httpx.post httpx.put
		httpx.patch httpx.delete aiohttp.ClientSession().post smtplib.SMTP smtplib.SMTP_SSL
		ftplib.FTP ftplib.FTP_TLS telnetlib.Telnet paramiko.SSHClient xmlrpc.client.ServerProxy`)
	put(kNetRequest, `requests.request httpx.request`)
	put(kURLOpen, `urllib.request.urlopen`)
	put(kURLRetrieve, `urllib.request.urlretrieve`)
	put(kURLRequest, `urllib.request.Request`)
	put(kHTTPConn, `http.client.HTTPConnection http.client.HTTPSConnection`)
	put(kHTTPConnRequest, `http.client.HTTPConnection().request http.client.HTTPSConnection().request`)
	put(kSocket, `socket.socket socket.create_connection socket.fromfd ssl.wrap_socket
		asyncio.open_connection asyncio.open_unix_connection asyncio.loop.create_connection
		asyncio.loop.open_connection asyncio.loop.create_datagram_endpoint asyncio.loop.create_unix_connection`)
	put(kListen, `socket.create_server socketserver.TCPServer socketserver.UDPServer
		socketserver.ThreadingTCPServer socketserver.ForkingTCPServer http.server.HTTPServer
		http.server.ThreadingHTTPServer http.server.test xmlrpc.server.SimpleXMLRPCServer
		asyncio.start_server wsgiref.simple_server.make_server asyncio.start_unix_server asyncio.loop.create_server
		asyncio.loop.create_unix_server`)
	put(kSockConnect, `socket.sock.connect socket.sock.connect_ex socket.sock.bind socket.sock.listen`)
	put(kDup2, `os.dup2`)
	put(kDeserialize, `pickle.load pickle.loads pickle.Unpickler marshal.load marshal.loads shelve.open
		dill.load dill.loads joblib.load jsonpickle.decode yaml.unsafe_load yaml.full_load
		pandas.read_pickle`)
	put(kYAMLLoad, `yaml.load`)
	put(kImport, `builtins.__import__ importlib.import_module importlib.__import__ imp.load_source
		imp.load_module imp.importlib.import_module`)
	put(kRunPath, `runpy.run_path runpy.run_module`)
	put(kGetattr, `builtins.getattr`)
	put(kSetattr, `builtins.setattr`)
	put(kGlobals, `builtins.globals builtins.locals`)
	put(kVars, `builtins.vars`)
	put(kChr, `builtins.chr`)
	put(kBytes, `builtins.bytes`)
	put(kStr, `builtins.str`)
	put(kInput, `builtins.input sys.stdin.read sys.stdin.readline sys.stdin.readlines`)
	put(kDecode, `base64.b64decode base64.standard_b64decode base64.urlsafe_b64decode base64.b32decode
		base64.b16decode base64.a85decode base64.b85decode base64.decodebytes base64.decodestring
		binascii.unhexlify binascii.a2b_hex binascii.a2b_base64 binascii.a2b_uu builtins.bytes.fromhex
		builtins.bytearray.fromhex codecs.decode codecs.encode zlib.decompress gzip.decompress
		bz2.decompress lzma.decompress`)
	put(kPath, `pathlib.Path pathlib.PosixPath pathlib.PurePath`)
	put(kPathHome, `pathlib.Path.home`)
	put(kSysPath, `sys.path.append sys.path.insert sys.path.extend site.addsitedir sys.meta_path.insert
		sys.meta_path.append sys.path_hooks.append`)
	put(kJoin, `os.path.join posixpath.join`)
	put(kExpandUser, `os.path.expanduser os.path.abspath os.path.realpath os.path.normpath`)
	return m
}

// putModelCalls adds the calls modelled for failing closed: contexts,
// indirect files, directory changes, getters and the breakpoint hook.
func putModelCalls(put func(pyKind, string)) {
	put(kMPContext, `multiprocessing.get_context`)
	put(kLogFile, `logging.FileHandler logging.handlers.RotatingFileHandler logging.handlers.TimedRotatingFileHandler
		logging.handlers.WatchedFileHandler logging.basicConfig`)
	put(kNetrc, `netrc.netrc`)
	put(kSQLite, `sqlite3.connect`)
	put(kChdir, `os.chdir os.fchdir`)
	put(kMethodCaller, `operator.methodcaller`)
	put(kAttrGetter, `operator.attrgetter`)
	put(kMap, `builtins.map builtins.filter`)
	put(kBreakpoint, `builtins.breakpoint`)
}
