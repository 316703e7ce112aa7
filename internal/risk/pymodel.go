package risk

import "strings"

// What the analyser understands of Python, for failing closed: a module is
// pure (nothing in it reaches a process, a file outside the rules, the
// network or the interpreter's internals), modelled (its dangerous calls
// are in pyCalls and the rest of its calls are listed in pyHarmless), or
// neither, and then using it is HIGH ("not modelled").

// pyPure are standard-library modules whose every call is harmless or
// judged by pyCalls.
var pyPure = setOf(`__future__ abc argparse array ast base64 binascii bisect bz2 calendar cmath codecs
	collections colorsys concurrent contextlib contextvars copy csv dataclasses datetime decimal difflib
	dis email enum errno fnmatch fractions functools getopt getpass gettext glob graphlib grp gzip hashlib
	heapq hmac html io ipaddress itertools json keyword locale lzma math mimetypes numbers operator
	pathlib platform pprint pstats pwd queue quopri random re reprlib resource sched secrets select
	selectors shlex socketserver stat statistics string stringprep struct tabnanny tempfile textwrap
	time token tokenize tomllib traceback typing unicodedata uuid warnings weakref wsgiref xml xmlrpc
	zlib zoneinfo zipfile tarfile sqlite3 atexit posixpath ntpath genericpath _collections_abc
	sre_compile sre_parse sre_constants opcode unittest sysconfig tracemalloc faulthandler cmd shelve
	pickle marshal netrc`)

// pyModelled are standard-library modules with dangerous calls in pyCalls;
// their other calls must be in pyHarmless.
var pyModelled = setOf(`os posix sys shutil subprocess socket ssl signal multiprocessing threading _thread
	asyncio importlib urllib http logging builtins pty code cProfile profile pdb timeit types ftplib
	smtplib telnetlib runpy imp ctypes cffi _ctypes`)

// pyThirdParty are the packages outside the standard library that the
// analyser models: importing one is MEDIUM, and its dangerous calls are in
// pyCalls (requests, yaml, pandas.read_pickle, …).
var pyThirdParty = setOf(`numpy pandas requests yaml scipy matplotlib PIL bs4 lxml httpx aiohttp rich click
	tqdm dateutil pytz attr attrs pydantic sklearn toml tomli simplejson regex more_itertools sympy
	networkx tabulate colorama termcolor dill joblib jsonpickle paramiko typing_extensions six chardet
	charset_normalizer idna certifi urllib3 packaging markdown jinja2 seaborn statsmodels polars pyarrow
	openpyxl xlrd docx pptx reportlab cryptography nacl jwt orjson ujson msgpack cachetools tenacity
	pendulum arrow humanize emoji unidecode faker hypothesis pytest psutil`)

// pyHarmless are calls of modelled modules that do nothing a rule cares
// about; an entry ending in "." covers everything under it.
var pyHarmless = setOf(`os.path. os.getcwd os.getcwdb os.getpid os.getppid os.getuid os.geteuid os.getgid
	os.getegid os.getgroups os.getlogin os.cpu_count os.urandom os.get_terminal_size os.isatty os.fspath
	os.fsencode os.fsdecode os.strerror os.times os.uname os.umask os.getloadavg os.sched_getaffinity
	os.lstat os.access os.close os.read os.write os.pipe os.fdopen os.dup os.waitpid os.wait os.wait3
	os.wait4 os.WEXITSTATUS os.WIFEXITED os.WIFSIGNALED os.WTERMSIG os.waitstatus_to_exitcode
	os.getrandom os.sync os._exit os.abort os.get_exec_path os.fstat os.lseek os.fsync os.get_blocking
	os.set_blocking os.getpgrp os.getpgid os.getsid os.nice os.get_inheritable os.set_inheritable
	os.device_encoding os.ttyname os.terminal_size os.stat_result os.PathLike os.DirEntry os.utime
	os.statvfs os.fstatvfs os.statvfs_result
	os.environ.
	sys.exit sys.getsizeof sys.getrecursionlimit sys.setrecursionlimit sys.getdefaultencoding
	sys.getfilesystemencoding sys.exc_info sys.exception sys.intern sys.is_finalizing sys.getrefcount
	sys.set_int_max_str_digits sys.get_int_max_str_digits sys.stdout. sys.stderr. sys.stdin.
	sys.__stdout__. sys.__stderr__. sys.getswitchinterval sys.setswitchinterval sys.path.index
	sys.path.__contains__ sys.modules.get sys.modules.keys sys.modules.items sys.modules.values
	shutil.which shutil.copyfileobj shutil.get_terminal_size shutil.copymode shutil.copystat
	shutil.ignore_patterns shutil.get_archive_formats shutil.get_unpack_formats shutil.Error
	subprocess.list2cmdline subprocess.CalledProcessError subprocess.TimeoutExpired
	subprocess.SubprocessError subprocess.CompletedProcess
	socket.gethostname socket.gethostbyname socket.gethostbyname_ex socket.getaddrinfo socket.getfqdn
	socket.inet_aton socket.inet_ntoa socket.htons socket.ntohs socket.htonl socket.ntohl
	socket.inet_pton socket.inet_ntop socket.timeout socket.error socket.herror socket.gaierror
	socket.getdefaulttimeout socket.setdefaulttimeout socket.has_ipv6 socket.if_nameindex
	socket.getservbyname socket.getservbyport socket.getprotobyname socket.getnameinfo
	ssl.create_default_context ssl.SSLContext ssl.SSLError ssl.get_default_verify_paths
	signal.signal signal.getsignal signal.alarm signal.pause signal.raise_signal signal.setitimer
	signal.getitimer signal.strsignal signal.valid_signals signal.default_int_handler signal.Signals
	signal.siginterrupt signal.pthread_sigmask signal.sigwait
	multiprocessing.cpu_count multiprocessing.current_process multiprocessing.Queue multiprocessing.Lock
	multiprocessing.RLock multiprocessing.Event multiprocessing.Value multiprocessing.Array
	multiprocessing.freeze_support multiprocessing.set_start_method multiprocessing.get_start_method
	multiprocessing.Pipe multiprocessing.Semaphore multiprocessing.JoinableQueue
	multiprocessing.active_children multiprocessing.parent_process multiprocessing.Condition
	multiprocessing.Barrier multiprocessing.BoundedSemaphore multiprocessing.SimpleQueue
	threading.Lock threading.RLock threading.Event threading.Condition threading.Semaphore
	threading.BoundedSemaphore threading.Barrier threading.current_thread threading.main_thread
	threading.active_count threading.enumerate threading.get_ident threading.get_native_id
	threading.local threading.currentThread threading.activeCount _thread.allocate_lock
	_thread.get_ident
	asyncio.run asyncio.gather asyncio.wait asyncio.wait_for asyncio.create_task
	asyncio.get_event_loop asyncio.new_event_loop asyncio.get_running_loop asyncio.set_event_loop
	asyncio.Queue asyncio.Lock asyncio.Event asyncio.Semaphore asyncio.BoundedSemaphore
	asyncio.Condition asyncio.iscoroutinefunction asyncio.iscoroutine asyncio.ensure_future
	asyncio.as_completed asyncio.TimeoutError asyncio.CancelledError asyncio.timeout asyncio.shield
	asyncio.run_coroutine_threadsafe asyncio.to_thread asyncio.Future asyncio.Task asyncio.TaskGroup
	asyncio.current_task asyncio.all_tasks asyncio.PriorityQueue asyncio.LifoQueue asyncio.Runner
	asyncio.StreamReader asyncio.sleep_forever asyncio.subprocess.PIPE asyncio.subprocess.DEVNULL
	asyncio.subprocess.STDOUT asyncio.wrap_future asyncio.QueueEmpty asyncio.QueueFull
	importlib.reload importlib.invalidate_caches importlib.util.find_spec importlib.resources.
	importlib.metadata.
	urllib.parse. urllib.error. urllib.request.quote urllib.request.unquote urllib.request.pathname2url
	urllib.request.url2pathname urllib.request.build_opener urllib.request.install_opener
	urllib.request.HTTPHandler urllib.request.HTTPSHandler urllib.request.ProxyHandler
	urllib.robotparser.
	http.HTTPStatus http.cookies. http.cookiejar. http.client.responses http.client.HTTPException
	http.server.BaseHTTPRequestHandler http.server.SimpleHTTPRequestHandler
	logging.getLogger logging.debug logging.info logging.warning logging.warn logging.error
	logging.critical logging.exception logging.log logging.StreamHandler logging.Formatter
	logging.Handler logging.Logger logging.LoggerAdapter logging.NullHandler logging.Filter
	logging.disable logging.captureWarnings logging.getLevelName logging.shutdown logging.root.
	logging.LogRecord logging.makeLogRecord logging.setLoggerClass logging.getLoggerClass
	logging.handlers.QueueHandler logging.handlers.QueueListener logging.handlers.MemoryHandler
	logging.handlers.BufferingHandler
	pty.openpty_unused code.compile_command cProfile.Profile profile.Profile types.SimpleNamespace
	types.MappingProxyType types.GenericAlias types.UnionType
	builtins.`)

// pyCallModelled reports whether a call of the qualified name q is one the
// analyser understands: a judged call (pyCalls), anything of a pure module
// or a modelled third-party package, a listed harmless call, or a method of
// an instance (its constructor was judged).
func pyCallModelled(q string) bool {
	if q == "" || strings.Contains(q, "()") || strings.HasPrefix(q, "local.") {
		return true
	}
	if _, ok := pyCalls[q]; ok {
		return true
	}
	root, _, _ := strings.Cut(q, ".")
	switch {
	case pyPure[root] || pyThirdParty[root]:
		return true
	case root == "builtins":
		name := strings.TrimPrefix(q, "builtins.")
		base, method, _ := strings.Cut(name, ".")
		// a method of eval, exec, getattr and the like is not modelled
		return !pyBuiltinUnmodelled[name] && !(method != "" && pyCodeRunners["builtins."+base])
	case !pyModelled[root]:
		return true // an unknown module: its import is already HIGH
	}
	for p := q; p != ""; {
		if pyHarmless[p] || pyHarmless[p+"."] {
			return true
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	last := q[strings.LastIndexByte(q, '.')+1:]
	return strings.ToUpper(last) == last // a constant or an exception class used as a value
}

// pyBuiltinUnmodelled are builtins that run code or tools no rule models.
var pyBuiltinUnmodelled = setOf("breakpoint help __build_class__ copyright credits license")

// pyCodeModules are the standard-library modules whose import is judged as
// importing something unmodelled (they run code, debug or introspect).
func pyImportModelled(m string) (modelled, thirdParty bool) {
	root, _, _ := strings.Cut(m, ".")
	switch {
	case root == "" || pyPure[root] || pyModelled[root]:
		return true, false
	case pyThirdParty[root]:
		return true, true
	}
	return false, false
}

// pyIntrospectionHigh are attributes of Python's internals that the
// analyser does not follow: reading one is HIGH.
var pyIntrospectionHigh = setOf(`__code__ __closure__ __func__ __mro__ __bases__ __base__ __getattribute__
	__reduce__ __reduce_ex__ __setstate__ f_back f_code tb_frame tb_next gi_code cr_frame co_code
	__defaults__ __kwdefaults__ __loader__ __spec__ __self__ __wrapped__ ag_frame cr_code`)

// pyValueSafe are callables that only look at a value they are given:
// passing os.system to isinstance does not call it.
var pyValueSafe = setOf(`builtins.isinstance builtins.issubclass builtins.callable builtins.id builtins.repr
	builtins.print builtins.str builtins.hash builtins.type builtins.hasattr builtins.dir`)

// pyNeverEnds are the builtin constructors that return the same value every
// time: iter(int, 1) never reaches its sentinel.
var pyNeverEnds = setOf("int float str bool list dict tuple set object bytes complex frozenset")
