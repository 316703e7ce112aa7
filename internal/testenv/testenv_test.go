package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMissing runs TestHelperMissing in a child process, once as on a
// developer's machine (skip) and once as in CI (fail).
func TestMissing(t *testing.T) {
	for _, tc := range []struct {
		requireAll string
		wantFail   bool
		wantText   string
	}{
		{"", false, "SKIP: widget is not available (not installed); run make-widget"},
		{"1", true, "MAI_TEST_REQUIRE_ALL=1 requires every component"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "MAI_TESTENV_HELPER=1", RequireAllVar+"="+tc.requireAll)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.wantFail || !strings.Contains(string(out), tc.wantText) {
			t.Errorf("%s=%q: err=%v\n%s", RequireAllVar, tc.requireAll, err, out)
		}
	}
}

func TestHelperMissing(t *testing.T) {
	if os.Getenv("MAI_TESTENV_HELPER") != "1" {
		return // runs only as TestMissing's child
	}
	Missing(t, "widget", "not installed", "run make-widget")
}
