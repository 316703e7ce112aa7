package selfmod

import (
	"archive/tar"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/testenv"
)

// goImage returns a Go-capable sandbox image built locally from this
// machine's Go toolchain on top of the busybox test image (no registry):
// the go command, the compiler tools and the standard library's source.
func goImage(t *testing.T) string {
	t.Helper()
	img := goImageName()
	if _, err := exec.LookPath("docker"); err != nil {
		testenv.Missing(t, "docker CLI", "needed to build the Go test image", howToFix)
	}
	if exec.Command("docker", "image", "inspect", img).Run() == nil {
		return img
	}
	out, err := exec.Command("docker", "create", shellImage(), "/bin/true").Output()
	if err != nil {
		testenv.Missing(t, "test image "+shellImage(), err.Error(), howToFix)
	}
	ctr := strings.TrimSpace(string(out))
	defer exec.Command("docker", "rm", "-f", ctr).Run()
	cp := exec.Command("docker", "cp", "-", ctr+":/")
	w, err := cp.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cp.Stderr = &stderr
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	werr := writeGoRoot(w, runtime.GOROOT())
	w.Close()
	if err := cp.Wait(); err != nil || werr != nil {
		t.Fatalf("copy the Go toolchain into the image: %v %v %s", err, werr, stderr.String())
	}
	if out, err := exec.Command("docker", "commit", "--change", "ENV PATH=/usr/local/go/bin:/bin:/usr/bin", ctr, img).CombinedOutput(); err != nil {
		t.Fatalf("docker commit: %v %s", err, out)
	}
	return img
}

// goImageName is the Go test image's name: the one trusted by testSandbox
// to execute from its scratch space.
func goImageName() string { return "mai-test/go:" + strings.TrimPrefix(runtime.Version(), "go") }

// writeGoRoot writes GOROOT as usr/local/go/… to a tar stream: what go vet and go
// test need, without the toolchain's own sources, tests and docs.
func writeGoRoot(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	for _, d := range []string{"usr/", "usr/local/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}); err != nil {
			return err
		}
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		for _, skip := range []string{"src/cmd", "test", "doc", "api", "misc", "pkg/obj"} {
			if rel == skip {
				return filepath.SkipDir
			}
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !d.IsDir() && !info.Mode().IsRegular() {
			return nil
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = "usr/local/go/"+rel, 0, 0, "", ""
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// The source repository's checks are go vet and the tests' compilation in
// the Go-capable sandbox image, on a tiny dependency-free fixture: a change
// that breaks the fixture's test is shown failing, with the Go tools' own
// output; a harmless one passes.
func TestSourceChecksRunGoTestInTheSandbox(t *testing.T) {
	testenv.Short(t, "builds a Go image and compiles the standard library in the sandbox")
	e := newEnv(t, true)
	src := filepath.Join(t.TempDir(), "source")
	initRepo(t, src, map[string]string{
		"go.mod":      "module fixture\n\ngo 1.22\n",
		"add.go":      "package fixture\n\n// Add adds.\nfunc Add(a, b int) int { return a + b }\n",
		"add_test.go": "package fixture\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 3) != 5 {\n\t\tt.Fatal(\"Add(2, 3) is not 5\")\n\t}\n}\n",
	})
	e.svc.o.GoImage = goImage(t)
	r, err := e.svc.Propose(context.Background(), Proposal{Target: Target{Name: Source, Path: src}, Subject: "fixture: rename",
		Requester: "mai", Changes: []Change{{Path: "add.go", Content: []byte("package fixture\n\n// Sum adds.\nfunc Sum(a, b int) int { return a + b }\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Checks
	if c.Status != "failed" || c.Command != goCheckCommand || !strings.Contains(c.Output, "undefined: Add") {
		t.Fatalf("checks: %+v", c)
	}
	// It compiles and vets clean: only running the test finds it wrong.
	r, err = e.svc.Propose(context.Background(), Proposal{Target: Target{Name: Source, Path: src}, Subject: "fixture: subtract",
		Requester: "mai", Changes: []Change{{Path: "add.go", Content: []byte("package fixture\n\n// Add adds.\nfunc Add(a, b int) int { return a - b }\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Checks; c.Status != "failed" || c.ExitCode == 0 || !strings.Contains(c.Output, "Add(2, 3) is not 5") || !strings.Contains(c.Output, "FAIL") {
		t.Fatalf("a change whose test fails: %+v", c)
	}
	r, err = e.svc.Propose(context.Background(), Proposal{Target: Target{Name: Source, Path: src}, Subject: "fixture: doc",
		Requester: "mai", Changes: []Change{{Path: "add.go", Content: []byte("package fixture\n\n// Add returns a+b.\nfunc Add(a, b int) int { return a + b }\n")}}})
	if err != nil || r.Checks.Status != "passed" || r.Checks.ExitCode != 0 || !strings.Contains(r.Checks.Output, "ok  \tfixture") {
		t.Fatalf("a harmless change: %+v %v", r.Checks, err)
	}
	e.svc.o.GoImage = ""
	r, err = e.svc.Propose(context.Background(), Proposal{Target: Target{Name: Source, Path: src}, Subject: "fixture: doc again",
		Requester: "mai", Changes: []Change{{Path: "add.go", Content: []byte("package fixture\n\n// Add returns the sum.\nfunc Add(a, b int) int { return a + b }\n")}}})
	if err != nil || r.Checks.Status != "unavailable" || !strings.Contains(r.Checks.Note, "SANDBOX_GO_IMAGE") {
		t.Fatalf("without an image: %+v %v", r.Checks, err)
	}
}
