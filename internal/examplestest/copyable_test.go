package examplestest

import (
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/simplesockets/simplesockets-go"

// Each example, copied alone into a new module that requires this one (by a
// replace directive to this checkout), builds and vets (vet also compiles
// its tests). The go command may fetch missing modules from GOPROXY.
func TestExamplesAreCopyable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every example in a module of its own")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if mod, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !bytes.Contains(mod, []byte("module "+modulePath+"\n")) {
		t.Fatalf("%s is not the root of %s (%v)", root, modulePath, err)
	}
	goSum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			src := filepath.Join(root, "examples", e.Name())
			checkNoInternalImports(t, src)
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			goMod := fmt.Sprintf("module example.com/x\n\ngo 1.26\n\nrequire %s v0.0.0\n\nreplace %s => %q\n", modulePath, modulePath, root)
			write(t, filepath.Join(dir, "go.mod"), []byte(goMod))
			write(t, filepath.Join(dir, "go.sum"), goSum)
			goCmd(t, goBin, dir, "build", "-mod=mod", "./...")
			goCmd(t, goBin, dir, "vet", "-mod=mod", "./...")
		})
	}
	if n == 0 {
		t.Fatalf("no examples under %s", filepath.Join(root, "examples"))
	}
}

// checkNoInternalImports fails the test for every import of an internal
// package in the Go files under dir: no other module may import those.
func checkNoInternalImports(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if slices.Contains(strings.Split(p, "/"), "internal") {
				t.Errorf("%s imports %s: an internal package, which a copy of the example in another module cannot import", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// goCmd runs the go command in dir, with the environment of the test (so
// GOFLAGS, GOPROXY and the caches are kept) but outside any workspace.
func goCmd(t *testing.T, goBin, dir string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go %s in a copy of the example: %v\n%s", strings.Join(args, " "), err, out)
	}
}
