package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/access"
	"github.com/lothub/lothub/core/store/sqlite"
)

const testPassword = "correct horse battery"

func TestUserAndTokenCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hub.db")
	// Bad usage: exit 2, nothing added.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "add", "ana", "--password-stdin"}, "give the user a role"},
		{[]string{"user", "add", "ana", "--role", "boss", "--password-stdin"}, `unknown role "boss"`},
		{[]string{"user", "add", "ana", "--role", "viewer", "--password", "x"}, "unknown flag: --password"},
		{[]string{"user", "add", "ana", "--role", "viewer"}, "give --password-stdin"}, // stdin is no terminal
		{[]string{"token", "create"}, "--user NAME"},
		{[]string{"token", "create", "--user", "ana", "--expires", "soon"}, "--expires"},
		{[]string{"usr", "list"}, `(did you mean "user"?)`},
		{[]string{"token", "revok", "x"}, `(did you mean "revoke"?)`},
	} {
		_, errs, code := hub(t, db, testPassword+"\n", c.args...)
		if code != exitInvalid || !strings.Contains(errs, c.want) {
			t.Errorf("hub %s: exit %d, stderr %q; want exit 2 saying %q", strings.Join(c.args, " "), code, errs, c.want)
		}
	}
	if _, errs, code := hub(t, db, "short\n", "user", "add", "ana", "--role", "quality", "--password-stdin"); code != exitInvalid || !strings.Contains(errs, "at least 12") {
		t.Errorf("short password: exit %d, %s", code, errs)
	}
	out, errs, code := hub(t, db, testPassword+"\n", "user", "add", "ana", "--role", "quality", "--full-name", "Ana Quality", "--password-stdin")
	if code != 0 || !strings.Contains(out, "added user ana (quality)") {
		t.Fatalf("user add: exit %d, %s %s", code, out, errs)
	}
	if _, errs, code := hub(t, db, testPassword+"\n", "user", "add", "ana", "--role", "viewer", "--password-stdin"); code != exitConflict || !strings.Contains(errs, `user "ana" exists already`) {
		t.Errorf("user add twice: exit %d, %s; want 4", code, errs)
	}
	if _, _, code := hub(t, db, "", "user", "add", "mes-bot", "--role", "integrator", "--no-password"); code != 0 {
		t.Fatalf("user add --no-password: exit %d", code)
	}
	out, _, code = hub(t, db, "", "user", "list", "--json")
	var users struct {
		Users []map[string]any `json:"users"`
	}
	if err := json.Unmarshal([]byte(out), &users); err != nil || code != 0 || len(users.Users) != 2 {
		t.Fatalf("user list --json: exit %d, %v\n%s", code, err, out)
	}
	if u := users.Users[0]; u["name"] != "ana" || u["role"] != "quality" || u["full_name"] != "Ana Quality" || u["created"] == nil {
		t.Errorf("first user %v", u)
	}
	if strings.Contains(out, "argon2") || strings.Contains(out, "password") {
		t.Errorf("user list shows a password hash:\n%s", out)
	}
	out, _, _ = hub(t, db, "", "user", "list")
	if !strings.Contains(out, "ana      quality     Ana Quality") || !strings.Contains(out, "mes-bot") {
		t.Errorf("user list:\n%s", out)
	}

	// The password works, and passwd changes it.
	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	users2 := &access.Users{Store: s}
	if _, err := users2.Login(context.Background(), "ana", testPassword); err != nil {
		t.Errorf("ana's password after user add: %v", err)
	}
	if _, _, code := hub(t, db, "another long password\n", "user", "passwd", "ana", "--password-stdin"); code != 0 {
		t.Fatalf("passwd: exit %d", code)
	}
	if _, err := users2.Login(context.Background(), "ana", "another long password"); err != nil {
		t.Errorf("ana's new password: %v", err)
	}
	if _, errs, code := hub(t, db, "x\n", "user", "passwd", "nobody", "--password-stdin"); code != exitNotFound || !strings.Contains(errs, `no user "nobody"`) {
		t.Errorf("passwd of nobody: exit %d, %s", code, errs)
	}

	// A token is printed once, on stdout alone; lists never show it.
	out, errs, code = hub(t, db, "", "token", "create", "--user", "mes-bot", "--label", "line 1", "--expires", "90d")
	token := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(token, "lh_") || strings.Count(out, "\n") != 1 || !strings.Contains(errs, "shown this once") {
		t.Fatalf("token create: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	usr, tok, err := users2.Authenticate(context.Background(), token)
	if err != nil || usr.Name != "mes-bot" || tok.Label != "line 1" || tok.Expires.IsZero() {
		t.Fatalf("the printed token: %+v %+v %v", usr, tok, err)
	}
	out, _, code = hub(t, db, "", "token", "create", "--user", "ana", "--json")
	var created struct{ ID, User, Token string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || code != 0 || created.User != "ana" || !strings.HasPrefix(created.Token, "lh_"+created.ID+"_") {
		t.Fatalf("token create --json: exit %d, %v\n%s", code, err, out)
	}
	out, _, _ = hub(t, db, "", "token", "list", "--json")
	if strings.Contains(out, token) || strings.Contains(out, created.Token) || !strings.Contains(out, `"id": "`+tok.ID+`"`) || !strings.Contains(out, `"label": "line 1"`) {
		t.Errorf("token list --json shows a token, or not the ids:\n%s", out)
	}
	if _, _, code := hub(t, db, "", "token", "revoke", tok.ID); code != 0 {
		t.Errorf("token revoke: exit %d", code)
	}
	if _, errs, code := hub(t, db, "", "token", "revoke", tok.ID); code != exitConflict || !strings.Contains(errs, "revoked already") {
		t.Errorf("revoke twice: exit %d, %s", code, errs)
	}
	if _, errs, code := hub(t, db, "", "token", "revoke", "nope"); code != exitNotFound {
		t.Errorf("revoke unknown: exit %d, %s", code, errs)
	}
	out, _, _ = hub(t, db, "", "token", "list", "--user", "mes-bot")
	if !strings.Contains(out, "revoked") || strings.Contains(out, created.ID) {
		t.Errorf("token list --user mes-bot:\n%s", out)
	}
	if _, _, err := users2.Authenticate(context.Background(), token); err == nil {
		t.Error("a revoked token still authenticates")
	}
	if _, _, code := hub(t, db, "", "user", "disable", "ana"); code != 0 {
		t.Errorf("disable: exit %d", code)
	}
	if _, _, err := users2.Authenticate(context.Background(), created.Token); err == nil {
		t.Error("the token of a disabled user still authenticates")
	}
	if out, _, _ := hub(t, db, "", "user", "list"); !strings.Contains(out, "disabled") {
		t.Errorf("user list after disable:\n%s", out)
	}
	s.Close()
}
