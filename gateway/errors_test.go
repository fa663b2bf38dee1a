package gateway

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

// codeFromDoc matches a row of the table in docs/errors.md: | 404 | `not_found` | ...
var codeFromDoc = regexp.MustCompile("^\\|\\s*([0-9]{3})\\s*\\|\\s*`([a-z0-9_]+)`\\s*\\|")

// TestErrorCodesDocumented compares the error codes the code can answer
// with docs/errors.md, both ways: every constant of error.go and every
// literal code given to paygate.Errorf / ParamErrorf or an Error literal
// anywhere in the module must be listed with the status the API answers,
// and every listed code must exist in the code.
func TestErrorCodesDocumented(t *testing.T) {
	root := filepath.Join("..")
	inCode := codesInCode(t, root)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "errors.md"))
	if err != nil {
		t.Fatal(err)
	}
	inDoc := map[string]int{}
	for _, line := range strings.Split(string(doc), "\n") {
		if m := codeFromDoc.FindStringSubmatch(line); m != nil {
			status, _ := strconv.Atoi(m[1])
			if _, dup := inDoc[m[2]]; dup {
				t.Errorf("docs/errors.md lists %s twice", m[2])
			}
			inDoc[m[2]] = status
		}
	}
	if len(inDoc) == 0 {
		t.Fatal("no codes found in docs/errors.md")
	}
	for _, code := range sortedCodes(inCode) {
		status, ok := inDoc[code]
		switch {
		case !ok:
			t.Errorf("code %q (%s) is missing from docs/errors.md", code, inCode[code])
		case status != StatusOf(code):
			t.Errorf("docs/errors.md gives %s status %d, the API answers %d", code, status, StatusOf(code))
		}
		if _, mapped := statusOf[code]; !mapped {
			t.Errorf("code %q (%s) has no status in gateway/errors.go (it would answer 500)", code, inCode[code])
		}
	}
	for _, code := range sortedCodes(inDoc) {
		if _, ok := inCode[code]; !ok {
			t.Errorf("docs/errors.md lists %q, which no code answers", code)
		}
	}
}

func sortedCodes[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// codesInCode parses the module's Go files (tests and generated SDK
// clients aside) and returns each error code with where it was found.
func codesInCode(t *testing.T, root string) map[string]string {
	t.Helper()
	codes := map[string]string{}
	fset := token.NewFileSet()
	// The constants of error.go.
	f, err := parser.ParseFile(fset, filepath.Join(root, "error.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i < len(vs.Values) && strings.HasPrefix(name.Name, "E") {
					if s, ok := stringLit(vs.Values[i]); ok {
						codes[s] = "error.go " + name.Name
					}
				}
			}
		}
	}
	if len(codes) < 10 {
		t.Fatalf("only %d constants found in error.go", len(codes))
	}
	// Literal codes anywhere else.
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "sdk-clients" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if name := paygateName(n.Fun, f.Name.Name); (name == "Errorf" || name == "ParamErrorf") && len(n.Args) > 1 {
					if s, ok := stringLit(n.Args[0]); ok && isCodeLiteral(s) {
						codes[s] = fset.Position(n.Pos()).String()
					}
				}
			case *ast.CompositeLit:
				if paygateName(n.Type, f.Name.Name) != "Error" {
					return true
				}
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
							if s, ok := stringLit(kv.Value); ok {
								codes[s] = fset.Position(n.Pos()).String()
							}
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return codes
}

// isCodeLiteral tells an error code ("rate_limited") from a format
// string given to an unrelated Errorf (fmt's has the format first).
func isCodeLiteral(s string) bool {
	return regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`).MatchString(s)
}

// paygateName is the name e refers to in package paygate (paygate.X, or X
// inside the package itself), "" for anything else.
func paygateName(e ast.Expr, pkg string) string {
	switch e := e.(type) {
	case *ast.Ident:
		if pkg == "paygate" {
			return e.Name
		}
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok && x.Name == "paygate" {
			return e.Sel.Name
		}
	}
	return ""
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// TestWriteErrorWrappedParam: an *paygate.Error wrapped by a caller keeps
// its param in the answer (writeError looks through wrapping with
// errors.As, like paygate.ErrorCode does for the code).
func TestWriteErrorWrappedParam(t *testing.T) {
	s := New(Deps{})
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/v1/orders", nil)
	s.writeError(c, fmt.Errorf("start order: %w", paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "amount must be positive")))
	if w.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", w.Code)
	}
	var body errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Error.Code != paygate.EAMOUNTINVALID || body.Error.Param != "amount" || body.Error.Message != "amount must be positive" {
		t.Fatalf("error %+v, want amount_invalid on param amount", body.Error)
	}
}
