package jsonquote_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lothub/lothub/internal/jsonquote"
)

func want(t *testing.T, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "FLOUR", "a \"quoted\" \\ back", "\x00\x01\x1f\x7f", "\b\f\n\r\t", "<&>", "é 日本 🍞", "\u2028\u2029", "\xff\xfe", "ok\xe2\x82", "tail\xe2"} {
		if got := jsonquote.Append(nil, s); !bytes.Equal(got, want(t, s)) {
			t.Errorf("Append(%q) = %s, encoding/json writes %s", s, got, want(t, s))
		}
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "x\"y", "\xff", "\u2028", "\x00é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := jsonquote.Append([]byte("prefix"), s); !bytes.Equal(got, append([]byte("prefix"), want(t, s)...)) {
			t.Errorf("Append(%q) = %s, encoding/json writes %s", s, got[6:], want(t, s))
		}
	})
}

// TestAppendEveryPosition puts each kind of byte the eight-at-a-time scan
// must stop at into every position of strings around its width.
func TestAppendEveryPosition(t *testing.T) {
	for _, odd := range []string{"\x00", "\x1f", "\"", "\\", "\x7f", "é", "\u2028", "\xff", " ", "!", "#", "[", "]", "\x20"} {
		for n := 1; n <= 24; n++ {
			for at := 0; at < n; at++ {
				s := strings.Repeat("a", at) + odd + strings.Repeat("Z", n-at-1)
				if got := jsonquote.Append(nil, s); !bytes.Equal(got, want(t, s)) {
					t.Errorf("Append(%q) = %s, encoding/json writes %s", s, got, want(t, s))
				}
			}
		}
	}
}
