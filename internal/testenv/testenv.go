// Package testenv decides what a test does when a real component it needs
// (dockerd, ollama, bandit, …) is absent: skip with the reason on a developer's
// machine, fail in CI, where .ci/run is responsible for providing everything.
package testenv

import (
	"os"
	"testing"
)

// RequireAllVar is the variable .ci/run sets so that a missing component fails
// the run instead of skipping silently.
const RequireAllVar = "MAI_TEST_REQUIRE_ALL"

// Missing reports that component is not available. It skips the test with
// the reason and how to provide the component, or fails it when
// MAI_TEST_REQUIRE_ALL=1.
func Missing(t testing.TB, component, why, howToFix string) {
	t.Helper()
	msg := component + " is not available (" + why + "); " + howToFix
	if os.Getenv(RequireAllVar) == "1" {
		t.Fatalf("%s — %s=1 requires every component", msg, RequireAllVar)
	}
	t.Skip("SKIP: " + msg)
}

// Short skips a slow real-component test under `go test -short`, saying
// why; with MAI_TEST_REQUIRE_ALL=1 -short is refused, since CI must run all.
func Short(t testing.TB, why string) {
	t.Helper()
	if !testing.Short() {
		return
	}
	if os.Getenv(RequireAllVar) == "1" {
		t.Fatalf("-short skips this test (%s), but %s=1 requires every test to run", why, RequireAllVar)
	}
	t.Skip("SKIP (-short): " + why)
}
