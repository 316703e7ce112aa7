package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/logging"
)

// Every variable the table marks secret is redacted wherever it could
// show: `mai config`, and log lines through Secrets. The planted values are
// set through the environment, as an owner would, and must be accepted.
func TestEverySecretVariableIsRedacted(t *testing.T) {
	env := map[string]string{"HOME": "/h"}
	planted := map[string]string{}
	for i, v := range vars() {
		if v.secret != nil {
			planted[v.name] = fmt.Sprintf("planted-secret-%d-of-%s", i, strings.ToLower(v.name))
			env[v.name] = planted[v.name]
		}
	}
	// The secrets known when this test was written; a new one only adds to them.
	for _, name := range []string{"DISCORD_BOT_TOKEN", "LMSTUDIO_API_TOKEN", "MAI_PIN"} {
		if planted[name] == "" {
			t.Errorf("%s is not marked secret in the table", name)
		}
	}
	c, err := Load(lookupFrom(env), t.TempDir())
	if err != nil {
		t.Fatalf("load with planted secrets: %v", err)
	}
	var buf bytes.Buffer
	log := logging.NewRedactor(&buf, c.Secrets())
	for name, value := range planted {
		if e := entry(t, c, name); e.Value != "[REDACTED]" || !e.Secret {
			t.Errorf("mai config shows %s as %q (secret %v)", name, e.Value, e.Secret)
		}
		fmt.Fprintf(log, `{"message":"request failed","auth":"Bearer %s","var":%q}`+"\n", value, name)
	}
	for name, value := range planted {
		if strings.Contains(buf.String(), value) {
			t.Errorf("%s reached the log unredacted:\n%s", name, buf.String())
		}
	}
}

// Every Secret field of Config is reported by Secrets, so a secret added
// to Config without a row marked secret in the table is caught too.
func TestSecretsCoversEverySecretField(t *testing.T) {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	var want []string
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).Type() == reflect.TypeOf(Secret("")) {
			s := "field-" + v.Type().Field(i).Name
			v.Field(i).SetString(s)
			want = append(want, s)
		}
	}
	got := strings.Join(c.Secrets(), " ")
	for _, s := range want {
		if !strings.Contains(got, s) {
			t.Errorf("Secrets() = %q lacks the value of %s", got, strings.TrimPrefix(s, "field-"))
		}
	}
}
