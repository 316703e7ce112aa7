package discord

import (
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/discord/discordtest"
)

func attachBot(t *testing.T) (*discordtest.Server, *scriptChat, string) {
	chat := &scriptChat{events: []Event{{Kind: EventText, Text: "ran it"}}}
	fake, ch := botWith(t, chat)
	return fake, chat, ch
}

func waitSent(t *testing.T, chat *scriptChat, want string) {
	t.Helper()
	waitFor(t, "the chat core to get "+want, func() bool {
		s := chat.sent()
		return len(s) == 1 && s[0] == want
	})
}

func TestCodeFileWithRunIsRun(t *testing.T) {
	fake, chat, _ := attachBot(t)
	a := fake.Attachment("hello.py", "text/x-python; charset=utf-8", []byte("print('hi')\n"))
	fake.SendDM(ownerID, "/run", a)
	waitSent(t, chat, "/run\n```python\nprint('hi')\n```")
}

func TestCodeFileVerdictThenRunByReaction(t *testing.T) {
	fake, chat, ch := attachBot(t)
	code := "import subprocess\nsubprocess.run(['rm', '-rf', '/tmp/x'])\n"
	fake.SendDM(ownerID, "", fake.Attachment("clean.py", "", []byte(code)))
	var verdict string
	waitFor(t, "the verdict with its ▶️", func() bool {
		m := fake.BotMessages(ch)
		if len(m) != 1 || len(m[0].Reactions) != 1 || m[0].Reactions[0].Emoji.Name != "▶️" {
			return false
		}
		verdict = m[0].ID
		return true
	})
	got := fake.BotMessages(ch)[0].Content
	if !strings.HasPrefix(got, "📎 `clean.py`: python, risk **HIGH**\n- line 2: ") || !strings.Contains(got, "still ask for your approval") {
		t.Fatalf("verdict = %q", got)
	}
	if s := chat.sent(); len(s) != 0 {
		t.Fatalf("the file went to the chat core before ▶️: %q", s)
	}
	// Someone else's ▶️ runs nothing; the owner's does.
	fake.React("200000000000000002", ch, verdict, "▶️")
	fake.React(ownerID, ch, verdict, "▶️")
	waitSent(t, chat, "/run\n```python\n"+strings.TrimRight(code, "\n")+"\n```")
	time.Sleep(300 * time.Millisecond)
	if s := chat.sent(); len(s) != 1 {
		t.Fatalf("the chat core got %q", s)
	}
}

func TestCodeFileRefusals(t *testing.T) {
	fake, chat, ch := attachBot(t)
	fake.SendDM(ownerID, "/run", fake.Attachment("big.py", "", []byte(strings.Repeat("x = 1\n", 3000))))
	fake.SendDM(ownerID, "/run", fake.Attachment("prog.py", "", []byte("print(1)\x00\x01\x02")))
	want := []string{
		"⚠️ big.py is larger than 16 KiB, the most Mai takes as a code file; paste the part that matters",
		"⚠️ prog.py is not a text file; Mai runs and judges source code only",
	}
	waitFor(t, "two refusals", func() bool { return len(fake.BotMessages(ch)) == 2 })
	if got := contents(fake.BotMessages(ch)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if s := chat.sent(); len(s) != 0 {
		t.Fatalf("the chat core got %q", s)
	}
}
