package storetest

import (
	"bytes"
	"fmt"
	"time"

	"github.com/lothub/lothub/core"
)

// Cases for users, API tokens and web sessions.

func init() {
	cases = append(cases, []testCase{
		{"Users", func(h *harness) {
			at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
			ana := core.User{Name: "ana", FullName: "Ana Quality", Role: core.RoleQuality, PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", Created: at}
			if err := h.s.CreateUser(h.ctx, &ana); err != nil {
				h.t.Fatal(err)
			}
			if ana.ID == 0 {
				h.t.Error("CreateUser did not set the user's id")
			}
			bob := core.User{Name: "bob", Role: core.RoleViewer, Created: at}
			if err := h.s.CreateUser(h.ctx, &bob); err != nil {
				h.t.Fatal(err)
			}
			again := core.User{Name: "ana", Role: core.RoleAdmin, Created: at}
			if err := h.s.CreateUser(h.ctx, &again); core.ErrorCode(err) != core.ECONFLICT {
				h.t.Errorf("second user named ana: err = %v, want ECONFLICT", err)
			}
			got, err := h.s.User(h.ctx, "ana")
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("ana", fmt.Sprintf("%s|%s|%s|%s|%v|%v", got.Name, got.FullName, got.Role, got.PasswordHash, got.Created, got.Active()),
				"ana|Ana Quality|quality|$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA|2026-04-01 08:00:00 +0000 UTC|true")
			if _, err := h.s.User(h.ctx, "carl"); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("unknown user: err = %v, want ENOTFOUND", err)
			}
			// Names are compared exactly: "Ana" is another user.
			if _, err := h.s.User(h.ctx, "Ana"); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("user Ana: err = %v, want ENOTFOUND", err)
			}
			all, err := h.s.Users(h.ctx)
			if err != nil {
				h.t.Fatal(err)
			}
			var names []string
			for _, u := range all {
				names = append(names, u.Name+":"+string(u.Role))
			}
			h.equal("users", names, []string{"ana:quality", "bob:viewer"})

			// A new password ends the user's sessions.
			sess := core.Session{Hash: []byte("h-ana"), User: "ana", Created: at, Expires: at.Add(8 * time.Hour), LastSeen: at, CSRF: "c"}
			if err := h.s.CreateSession(h.ctx, sess); err != nil {
				h.t.Fatal(err)
			}
			if err := h.s.SetPassword(h.ctx, "ana", "$argon2id$new"); err != nil {
				h.t.Fatal(err)
			}
			if got, _ := h.s.User(h.ctx, "ana"); got.PasswordHash != "$argon2id$new" {
				h.t.Errorf("password hash after SetPassword = %q", got.PasswordHash)
			}
			if _, err := h.s.Session(h.ctx, sess.Hash); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("session after a new password: err = %v, want ENOTFOUND", err)
			}
			if err := h.s.SetPassword(h.ctx, "carl", "x"); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("password of an unknown user: err = %v, want ENOTFOUND", err)
			}

			// Disabling ends the sessions too, and only once.
			sess.Hash = []byte("h-bob")
			sess.User = "bob"
			if err := h.s.CreateSession(h.ctx, sess); err != nil {
				h.t.Fatal(err)
			}
			off := at.Add(time.Hour)
			if err := h.s.DisableUser(h.ctx, "bob", off); err != nil {
				h.t.Fatal(err)
			}
			if got, _ := h.s.User(h.ctx, "bob"); got.Active() || !got.Disabled.Equal(off) {
				h.t.Errorf("bob after DisableUser: disabled %v, want %v", got.Disabled, off)
			}
			if _, err := h.s.Session(h.ctx, sess.Hash); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("session of a disabled user: err = %v, want ENOTFOUND", err)
			}
			if err := h.s.DisableUser(h.ctx, "bob", off); core.ErrorCode(err) != core.ECONFLICT {
				h.t.Errorf("disable twice: err = %v, want ECONFLICT", err)
			}
			if err := h.s.DisableUser(h.ctx, "carl", off); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("disable an unknown user: err = %v, want ENOTFOUND", err)
			}
			if got, _ := h.s.User(h.ctx, "ana"); !got.Active() {
				h.t.Error("disabling bob disabled ana")
			}
		}},
		{"APITokens", func(h *harness) {
			at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
			for _, name := range []string{"ana", "ivo"} {
				u := core.User{Name: name, Role: core.RoleIntegrator, Created: at}
				if err := h.s.CreateUser(h.ctx, &u); err != nil {
					h.t.Fatal(err)
				}
			}
			hash := bytes.Repeat([]byte{0xab}, 32)
			t1 := core.APIToken{ID: "t1", User: "ana", Label: "line 1", Hash: hash, Created: at, Expires: at.AddDate(0, 0, 90)}
			if err := h.s.CreateToken(h.ctx, t1); err != nil {
				h.t.Fatal(err)
			}
			if err := h.s.CreateToken(h.ctx, core.APIToken{ID: "t2", User: "ivo", Hash: []byte{1}, Created: at.Add(time.Minute)}); err != nil {
				h.t.Fatal(err)
			}
			if err := h.s.CreateToken(h.ctx, core.APIToken{ID: "t3", User: "carl", Hash: []byte{2}, Created: at}); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("token of an unknown user: err = %v, want ENOTFOUND", err)
			}
			if err := h.s.CreateToken(h.ctx, core.APIToken{ID: "t1", User: "ivo", Hash: []byte{3}, Created: at}); core.ErrorCode(err) != core.ECONFLICT {
				h.t.Errorf("token with a taken id: err = %v, want ECONFLICT", err)
			}
			got, err := h.s.Token(h.ctx, "t1")
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("t1", fmt.Sprintf("%s|%s|%s|%x|%v|%v|%v|%v", got.ID, got.User, got.Label, got.Hash, got.Created, got.Expires, got.Revoked.IsZero(), got.LastUsed.IsZero()),
				fmt.Sprintf("t1|ana|line 1|%x|2026-04-01 08:00:00 +0000 UTC|2026-06-30 08:00:00 +0000 UTC|true|true", hash))
			if !got.Valid(at) || got.Valid(at.AddDate(0, 0, 90)) {
				h.t.Errorf("t1 valid at creation %v, at expiry %v; want true, false", got.Valid(at), got.Valid(at.AddDate(0, 0, 90)))
			}
			if _, err := h.s.Token(h.ctx, "nope"); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("unknown token: err = %v, want ENOTFOUND", err)
			}
			ids := func(f core.TokenFilter) []string {
				ts, err := h.s.Tokens(h.ctx, f)
				if err != nil {
					h.t.Fatal(err)
				}
				out := []string{}
				for _, t := range ts {
					out = append(out, t.ID+":"+t.User)
				}
				return out
			}
			h.equal("all tokens", ids(core.TokenFilter{}), []string{"t1:ana", "t2:ivo"})
			h.equal("ivo's tokens", ids(core.TokenFilter{User: "ivo"}), []string{"t2:ivo"})

			// Last use only moves forward.
			used := at.Add(2 * time.Hour)
			if err := h.s.TouchToken(h.ctx, "t1", used); err != nil {
				h.t.Fatal(err)
			}
			if err := h.s.TouchToken(h.ctx, "t1", at.Add(time.Hour)); err != nil {
				h.t.Fatal(err)
			}
			if got, _ := h.s.Token(h.ctx, "t1"); !got.LastUsed.Equal(used) {
				h.t.Errorf("last used = %v, want %v", got.LastUsed, used)
			}

			off := at.Add(3 * time.Hour)
			if err := h.s.RevokeToken(h.ctx, "t1", off); err != nil {
				h.t.Fatal(err)
			}
			if got, _ := h.s.Token(h.ctx, "t1"); !got.Revoked.Equal(off) || got.Valid(at) {
				h.t.Errorf("t1 after revoke: revoked %v, valid %v", got.Revoked, got.Valid(at))
			}
			if err := h.s.RevokeToken(h.ctx, "t1", off); core.ErrorCode(err) != core.ECONFLICT {
				h.t.Errorf("revoke twice: err = %v, want ECONFLICT", err)
			}
			if err := h.s.RevokeToken(h.ctx, "nope", off); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("revoke an unknown token: err = %v, want ENOTFOUND", err)
			}
			if got, _ := h.s.Token(h.ctx, "t2"); !got.Revoked.IsZero() {
				h.t.Error("revoking t1 revoked t2")
			}
		}},
		{"Sessions", func(h *harness) {
			at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
			u := core.User{Name: "ana", Role: core.RoleViewer, Created: at}
			if err := h.s.CreateUser(h.ctx, &u); err != nil {
				h.t.Fatal(err)
			}
			s1 := core.Session{Hash: []byte{1, 2, 3}, User: "ana", Created: at, Expires: at.Add(12 * time.Hour), LastSeen: at, CSRF: "csrf-1"}
			s2 := core.Session{Hash: []byte{4, 5, 6}, User: "ana", Created: at, Expires: at.Add(time.Hour), LastSeen: at, CSRF: "csrf-2"}
			for _, s := range []core.Session{s1, s2} {
				if err := h.s.CreateSession(h.ctx, s); err != nil {
					h.t.Fatal(err)
				}
			}
			if err := h.s.CreateSession(h.ctx, core.Session{Hash: []byte{9}, User: "carl", Created: at, Expires: at, LastSeen: at}); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("session of an unknown user: err = %v, want ENOTFOUND", err)
			}
			got, err := h.s.Session(h.ctx, s1.Hash)
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("s1", fmt.Sprintf("%x|%s|%v|%v|%v|%s", got.Hash, got.User, got.Created, got.Expires, got.LastSeen, got.CSRF),
				"010203|ana|2026-04-01 08:00:00 +0000 UTC|2026-04-01 20:00:00 +0000 UTC|2026-04-01 08:00:00 +0000 UTC|csrf-1")
			if _, err := h.s.Session(h.ctx, []byte{7}); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("unknown session: err = %v, want ENOTFOUND", err)
			}
			seen := at.Add(30 * time.Minute)
			if err := h.s.TouchSession(h.ctx, s1.Hash, seen); err != nil {
				h.t.Fatal(err)
			}
			if err := h.s.TouchSession(h.ctx, s1.Hash, at); err != nil {
				h.t.Fatal(err)
			}
			if got, _ := h.s.Session(h.ctx, s1.Hash); !got.LastSeen.Equal(seen) {
				h.t.Errorf("last seen = %v, want %v", got.LastSeen, seen)
			}
			// At 08:40 with a 30-minute idle timeout: s2 (idle since 08:00)
			// goes, s1 (seen at 08:30) stays.
			n, err := h.s.DeleteExpiredSessions(h.ctx, at.Add(40*time.Minute), at.Add(10*time.Minute))
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("sessions removed for idleness", n, 1)
			if _, err := h.s.Session(h.ctx, s2.Hash); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("idle session after cleanup: err = %v, want ENOTFOUND", err)
			}
			// At 20:00 s1's absolute end has come, however active it was.
			if err := h.s.TouchSession(h.ctx, s1.Hash, at.Add(12*time.Hour)); err != nil {
				h.t.Fatal(err)
			}
			if n, err := h.s.DeleteExpiredSessions(h.ctx, at.Add(12*time.Hour), at); err != nil || n != 1 {
				h.t.Errorf("cleanup at the absolute end: %d removed, %v; want 1", n, err)
			}
			if err := h.s.CreateSession(h.ctx, s2); err != nil {
				h.t.Fatal(err)
			}
			if err := h.s.DeleteSession(h.ctx, s2.Hash); err != nil {
				h.t.Fatal(err)
			}
			if _, err := h.s.Session(h.ctx, s2.Hash); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("session after logout: err = %v, want ENOTFOUND", err)
			}
			if err := h.s.DeleteSession(h.ctx, s2.Hash); err != nil {
				h.t.Errorf("ending an ended session: %v", err)
			}
		}},
	}...)
}
