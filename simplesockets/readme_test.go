package simplesockets_test

import (
	"fmt"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The documentation's Go snippets are checked against the examples, which
// are compiled and run (each has an Output comment): every code line of a
// snippet must be a line of an example, so a snippet cannot drift from code
// that works. Compared is the code of a line: leading and trailing blanks,
// a trailing // comment and the width of gofmt's alignment do not count.
//
// What a snippet may leave out or write differently, and nothing else:
//   - blank lines and comment lines;
//   - a line that is "..." or "if err != nil { ... }";
//   - the placeholders of addresses, which the examples must replace (they
//     listen on port 0 and use a temporary directory): "127.0.0.1:9999",
//     "/tmp/echo.sock" and the port 9999 each match a string literal or a
//     simple expression such as srv.Addr().String() or compat.AnyPort;
//   - whatever the example adds around the snippet's lines (imports, error
//     checks, a context, a peer, printing).

// snippetDocs are the documents whose Go snippets are checked, with how
// to read them.
var snippetDocs = []struct {
	path  string
	goDoc bool // a Go file whose package comment holds the snippets
}{
	{"../README.md", false},
	{"doc.go", true},
	{"compat/doc.go", true},
}

// exampleFiles are the sources the snippets must come from.
var exampleFiles = []string{"example_test.go", "compat/example_test.go", "rpc/example_test.go"}

// elided are the normalized lines a snippet may contain that no example
// needs to.
var elided = map[string]bool{"...": true, "if err != nil { ... }": true}

var placeholder = regexp.MustCompile(`"127\.0\.0\.1:9999"|"/tmp/echo\.sock"|\b9999\b`)

// placeholderExpr is what a placeholder matches in an example line.
const placeholderExpr = `(?:"[^"]*"|[\w.()]+)`

func TestReadmeSnippetsAreExamples(t *testing.T) {
	var examples []string
	exact := map[string]bool{}
	for _, f := range exampleFiles {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(src), "\n") {
			if n := normalizeLine(l); n != "" {
				examples = append(examples, n)
				exact[n] = true
			}
		}
	}
	for _, d := range snippetDocs {
		t.Run(strings.TrimPrefix(d.path, "../"), func(t *testing.T) {
			snippets := readSnippets(t, d.path, d.goDoc)
			if len(snippets) == 0 {
				t.Fatalf("%s: no Go snippet found: is the checker still reading it right?", d.path)
			}
			for _, s := range snippets {
				for i, l := range strings.Split(s.text, "\n") {
					n := normalizeLine(l)
					if n == "" || elided[n] || exact[n] {
						continue
					}
					if placeholder.MatchString(n) && matchesAny(placeholderPattern(n), examples) {
						continue
					}
					t.Errorf("%s:%d: a snippet's line that is in no example (%s):\n\t%s",
						d.path, s.line+i, strings.Join(exampleFiles, ", "), strings.TrimSpace(l))
				}
			}
		})
	}
}

// The server and client snippets of one document (of one "## " section of
// a Markdown file) work together only with the same Framing (Raw, the
// default, against LengthPrefixed fails).
func TestReadmeSnippetsAgreeOnFraming(t *testing.T) {
	cfg := regexp.MustCompile(`\b(?:Server|Client)Config\{`)
	framing := regexp.MustCompile(`Framing:\s*(?:\w+\.)?(\w+\([^)]*\))`)
	for _, d := range snippetDocs {
		t.Run(strings.TrimPrefix(d.path, "../"), func(t *testing.T) {
			src, err := os.ReadFile(d.path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(src), "\n")
			section := func(line int) string { // the Markdown section a line is in
				for i := min(line, len(lines)) - 1; i >= 0 && !d.goDoc; i-- {
					if strings.HasPrefix(lines[i], "## ") {
						return lines[i]
					}
				}
				return ""
			}
			var first, firstSection string // the first config's framing, and where
			for _, s := range readSnippets(t, d.path, d.goDoc) {
				if sec := section(s.line); sec != firstSection {
					first, firstSection = "", sec
				}
				for _, loc := range cfg.FindAllStringIndex(s.text, -1) {
					f := "Raw()" // the zero value
					if m := framing.FindStringSubmatch(bracedText(s.text[loc[1]-1:])); m != nil {
						f = m[1]
					}
					at := fmt.Sprintf("%s (line %d)", f, s.line+strings.Count(s.text[:loc[0]], "\n"))
					switch {
					case first == "":
						first = at
					case !strings.HasPrefix(first, f+" "):
						t.Errorf("%s: one config has framing %s, another %s", d.path, first, at)
					}
				}
			}
		})
	}
}

type snippet struct {
	line int    // where the snippet begins in its document, counted from 1
	text string // its code
}

// readSnippets returns the ```go blocks of a Markdown file, or the code
// blocks of the package comment of a Go file.
func readSnippets(t *testing.T, path string, goDoc bool) []snippet {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !goDoc {
		var out []snippet
		var cur *snippet
		for i, l := range strings.Split(string(src), "\n") {
			switch tl := strings.TrimSpace(l); {
			case cur == nil && tl == "```go":
				cur = &snippet{line: i + 2}
			case cur != nil && tl == "```":
				out = append(out, *cur)
				cur = nil
			case cur != nil:
				cur.text += l + "\n"
			}
		}
		if cur != nil {
			t.Fatalf("%s: the ```go block at line %d is not closed", path, cur.line-1)
		}
		return out
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	if f.Doc == nil {
		t.Fatalf("%s: no package comment", path)
	}
	var out []snippet
	from := 0 // where the previous snippet began in src
	for _, b := range new(comment.Parser).Parse(f.Doc.Text()).Content {
		if c, ok := b.(*comment.Code); ok {
			// Its line is found by its first line, after the previous one.
			first, _, _ := strings.Cut(c.Text, "\n")
			line := 0
			if i := strings.Index(string(src[from:]), first); i >= 0 {
				from += i
				line = 1 + strings.Count(string(src[:from]), "\n")
			}
			out = append(out, snippet{line: line, text: c.Text})
		}
	}
	return out
}

// normalizeLine returns the code of a line: without its trailing // comment
// (outside string and rune literals), surrounding blanks, and with each run
// of blanks inside made one space. A comment line gives "".
func normalizeLine(l string) string {
	var quote rune // the delimiter of the literal being read, or 0
	for i, r := range l {
		switch {
		case quote != 0:
			if r == quote && (quote == '`' || !escaped(l[:i])) {
				quote = 0
			}
		case r == '"' || r == '`' || r == '\'':
			quote = r
		case strings.HasPrefix(l[i:], "//"):
			return strings.Join(strings.Fields(l[:i]), " ")
		}
	}
	return strings.Join(strings.Fields(l), " ")
}

// escaped reports whether s ends in an odd number of backslashes.
func escaped(s string) bool {
	n := len(s) - len(strings.TrimRight(s, `\`))
	return n%2 == 1
}

// placeholderPattern turns a normalized snippet line with placeholders into
// a regular expression for a whole normalized example line.
func placeholderPattern(n string) *regexp.Regexp {
	parts := placeholder.Split(n, -1)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, placeholderExpr) + "$")
}

func matchesAny(re *regexp.Regexp, lines []string) bool {
	for _, l := range lines {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// bracedText returns s up to the '}' that closes the '{' it begins with
// (all of s if none does).
func bracedText(s string) string {
	depth := 0
	for i, r := range s {
		switch r {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return s[:i+1]
			}
		}
	}
	return s
}
